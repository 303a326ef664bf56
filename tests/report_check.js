// Appended to a copy of a Snakemake HTML report by tests/test_report.py: walks every result
// through the report's own UI (app.showResultInfo / app.setView), and writes what was rendered
// into <pre id="xrtflow-check"> for chromium --dump-dom.
window.addEventListener("load", () => setTimeout(async () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 100));
  const out = { results: [], stats: "", graph: "", errors: [], done: false };
  const pre = document.createElement("pre");
  pre.id = "xrtflow-check";
  document.body.appendChild(pre);
  window.onerror = (msg) => { out.errors.push(String(msg)); pre.textContent = JSON.stringify(out); };
  try {
  await tick();
  out.graph = JSON.stringify(rulegraph_spec.data[0].values.map((n) => n.rule));
  for (const [path, entry] of Object.entries(results)) {
    pre.textContent = JSON.stringify(out);
    app.showResultInfo(path);
    await tick();
    const nav = document.querySelector("#app").innerText;
    const isImage = entry.mime_type.startsWith("image/");
    app.setView({ content: isImage ? "img" : "html", contentPath: entry.data_uri, resultPath: path });
    await tick();
    const record = { path: path, mime: entry.mime_type, caption: nav, width: 0, html: "" };
    if (isImage) {
      const img = Array.from(document.querySelectorAll("#app img")).find((i) => i.src === entry.data_uri);
      if (img) {
        // data URIs decode without the network; poll rather than await decode(), which can
        // outlast headless Chromium's virtual time
        for (let i = 0; i < 50 && !(img.complete && img.naturalWidth); i++) await tick();
        record.width = img.naturalWidth;
      }
    } else {
      const frame = document.querySelector("#app iframe");
      if (frame && frame.src.startsWith("data:")) {
        const data = frame.src.split(",")[1];
        record.html = frame.src.includes(";base64") ? atob(data) : decodeURIComponent(data);
      }
    }
    out.results.push(record);
  }
  app.setView({ content: "stats" });
  await tick();
  out.stats = document.querySelector("#app").innerText;
    out.done = true;
  } catch (err) {
    out.errors.push(String(err) + " " + err.stack);
  }
  pre.textContent = JSON.stringify(out);
}, 300));
