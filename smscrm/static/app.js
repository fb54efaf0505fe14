// After a form comes back with errors, the cursor goes to the first field in error; the field names its
// message (aria-describedby), so a screen reader reads it out with the field. No framework.
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector("main [aria-invalid='true']");
  if (invalid) {
    invalid.focus();
  }
});
