"""The single HTML page of ``hqmed serve``: no external assets, works offline."""

from __future__ import annotations

import html
import json

__all__ = ["render_page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hqmed: predict</title>
<link rel="icon" href="data:,">
<style>
 body {{ font: 15px/1.45 system-ui, sans-serif; color: #1f2933; margin: 0; background: #f5f7fa; }}
 main {{ max-width: 980px; margin: 0 auto; padding: 24px; }}
 h1 {{ font-size: 22px; margin: 0 0 4px; }}
 .sub {{ color: #52606d; margin: 0 0 14px; }}
 #note {{ border-left: 4px solid #d9822b; background: #fff8eb; padding: 10px 14px; margin: 0 0 18px; }}
 .card {{ background: #fff; border: 1px solid #d9e2ec; border-radius: 8px; padding: 16px; margin-bottom: 16px; }}
 .grid {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }}
 @media (max-width: 720px) {{ .grid {{ grid-template-columns: 1fr; }} }}
 #error {{ color: #a61b1b; font-weight: 600; min-height: 1.2em; }}
 #status {{ color: #52606d; }}
 .bar {{ display: grid; grid-template-columns: 11em 1fr 4.5em; gap: 8px; align-items: center; margin: 3px 0; }}
 .bar .name {{ overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
 .bar .track {{ background: #e4e7eb; border-radius: 3px; height: 14px; }}
 .bar .fill {{ background: #3e7cb1; height: 14px; border-radius: 3px; }}
 .bar.top .fill {{ background: #d9822b; }}
 .bar .value {{ text-align: right; font-variant-numeric: tabular-nums; }}
 #overlay {{ width: 100%; max-width: 420px; image-rendering: auto; border-radius: 4px; }}
 #predicted {{ font-size: 18px; font-weight: 600; margin: 0 0 8px; }}
 code {{ background: #e4e7eb; padding: 1px 4px; border-radius: 3px; }}
</style></head>
<body><main>
<h1>hqmed: predict one image</h1>
<p class="sub">Run <code>{run}</code>: {model}. Classes: {classes}.</p>
<p id="note"><strong>Research tool, not a medical device.</strong> The probabilities and the heat
map come from a research model; they are not a diagnosis and must not be used for patient care.</p>
<div class="card">
 <label for="file">DICOM, PNG or JPEG (at most {limit_mb} MB):</label>
 <input type="file" id="file" name="file" accept=".dcm,.dicom,.png,.jpg,.jpeg,application/dicom,image/png,image/jpeg">
 <span id="status"></span>
 <div id="error" role="alert"></div>
</div>
<div class="grid" id="result" hidden>
 <div class="card"><p id="predicted"></p><div id="probabilities"></div></div>
 <div class="card"><p><strong>Where the model looks</strong> ({method} of the predicted class)</p>
  <img id="overlay" alt="heat map over the uploaded image"></div>
</div>
<p class="sub">API: <code>curl -F file=@image.dcm http://HOST:PORT/predict</code> returns the JSON of
<code>hqmed predict --json</code>; <code>/explain</code> adds the overlay.</p>
</main>
<script>
const LIMIT = {limit};
const fileInput = document.getElementById("file");
const statusEl = document.getElementById("status");
const errorEl = document.getElementById("error");
const resultEl = document.getElementById("result");
function bar(name, p, top) {{
  const row = document.createElement("div");
  row.className = "bar" + (top ? " top" : "");
  row.dataset.class = name;
  row.dataset.probability = String(p);
  const label = document.createElement("span"); label.className = "name"; label.textContent = name; label.title = name;
  const track = document.createElement("span"); track.className = "track";
  const fill = document.createElement("span"); fill.className = "fill"; fill.style.display = "block";
  fill.style.width = (100 * p).toFixed(2) + "%"; track.appendChild(fill);
  const value = document.createElement("span"); value.className = "value"; value.textContent = (100 * p).toFixed(1) + "%";
  row.append(label, track, value);
  return row;
}}
async function send(file) {{
  errorEl.textContent = ""; resultEl.hidden = true;
  if (file.size > LIMIT) {{ errorEl.textContent = "upload: expected at most " + LIMIT + " bytes; got " + file.size; return; }}
  statusEl.textContent = "predicting...";
  const form = new FormData(); form.append("file", file, file.name);
  let doc;
  try {{
    const response = await fetch("explain", {{ method: "POST", body: form }});
    doc = await response.json();
  }} catch (err) {{
    statusEl.textContent = ""; errorEl.textContent = "request failed: " + err; return;
  }}
  statusEl.textContent = "";
  if (doc.error) {{ errorEl.textContent = doc.error; return; }}
  const pred = doc.predictions[0];
  document.getElementById("predicted").textContent = pred["class"] + " (" + (100 * pred.confidence).toFixed(1) + "%)";
  const probs = document.getElementById("probabilities");
  probs.replaceChildren(...Object.entries(pred.probabilities).map(([n, p]) => bar(n, p, n === pred["class"])));
  probs.dataset.file = pred.file;
  document.getElementById("overlay").src = pred.overlay;
  resultEl.hidden = false;
}}
fileInput.addEventListener("change", () => {{ if (fileInput.files.length) send(fileInput.files[0]); }});
</script>
</body></html>
"""


def render_page(run: str, model: str, class_names: list[str], method: str, limit: int) -> str:
    """The page for one run (names escaped; the limit is enforced by the server as well)."""
    return _PAGE.format(run=html.escape(run), model=html.escape(model),
                        classes=html.escape(", ".join(class_names)), method=html.escape(method),
                        limit=json.dumps(int(limit)), limit_mb=f"{limit / 2**20:g}")
