// Member import: while the job checks or writes the file, follow its progress; reload when its status changes.
(function () {
  const box = document.querySelector("[data-import-progress]");
  if (!box) return;
  const bar = box.querySelector("progress[max]");
  const text = box.querySelector("[data-progress-text]");
  const template = text ? text.textContent : "";
  const follow = async function () {
    try {
      const response = await fetch(box.dataset.importProgress, {headers: {Accept: "application/json"}});
      const progress = await response.json();
      if (progress.status !== box.dataset.status) { window.location.reload(); return; }
      if (bar) bar.value = progress.checked;
      if (text) text.textContent = template.replace(/[\d,，]+/, progress.checked.toLocaleString(document.documentElement.lang));
    } catch (error) { /* the next try may reach the server */ }
    window.setTimeout(follow, 1500);
  };
  window.setTimeout(follow, 1500);
})();
