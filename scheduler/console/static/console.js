// Progressive enhancement only: every page works without this file.
// "Copy YAML": buttons with data-copy="#selector" copy that field's text to the clipboard.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.querySelector(button.dataset.copy);
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const label = button.textContent;
      let copied = false;
      try {
        if (navigator.clipboard) {
          await navigator.clipboard.writeText(field.value);
          copied = true;
        }
      } catch { /* not a secure context, or no permission: fall back below */ }
      if (!copied) {
        field.select();
        copied = document.execCommand("copy");
      }
      button.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
});
