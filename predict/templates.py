"""Jinja2 templates for the --explain summary and the `serve` page, with their CSS and JS.

They live in a Python module rather than .html files because the package installs its .py files only (no package
data is declared), and a template missing from an installed copy would only show up when a person opens the page.
Python hands the templates data; the markup, style and behaviour are all here.
"""
from __future__ import annotations

import jinja2

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)

CSS = """
:root { color-scheme: light; --fake:#b3261e; --real:#1b6e3a; --ink:#1d1d1f; --muted:#5f6368; --line:#dadce0; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0;
       background: #f8f9fa; }
main { max-width: 960px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 18px 0 6px; }
.muted { color: var(--muted); font-size: .92rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin: 12px 0; }
.fake { color: var(--fake); font-weight: 700; }
.real { color: var(--real); font-weight: 700; }
.verdict { font-size: 1.5rem; margin: 4px 0; }
.faces { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.face { margin: 0; }
.face img { width: 100%; max-width: 320px; height: auto; border-radius: 6px; display: block; }
.bar { height: 10px; background: #e8eaed; border-radius: 5px; position: relative; margin: 6px 0; }
.bar span { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 5px; }
.bar i { position: absolute; top: -4px; bottom: -4px; width: 2px; background: var(--ink); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
#drop { display: block; margin: 12px 0; border: 2px dashed #9aa0a6; border-radius: 10px; padding: 28px 12px;
        text-align: center; background: #fff;
        cursor: pointer; }
#drop.over { border-color: #1a73e8; background: #e8f0fe; }
#stage { position: relative; display: inline-block; max-width: 100%; }
#stage img, #stage video { max-width: 100%; height: auto; display: block; }
.box { position: absolute; border: 3px solid var(--real); border-radius: 3px; }
.box.fake { border-color: var(--fake); }
.box b { position: absolute; left: -3px; top: -1.6em; font-size: .8rem; color: #fff; background: var(--real);
         padding: 0 4px; border-radius: 3px; white-space: nowrap; }
.box.fake b { background: var(--fake); }
.error { color: var(--fake); }
button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--line); background: #fff; }
"""

EXPLAIN = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Why the model said so: {{ run.name }}</title><style>{{ css }}</style></head>
<body><main>
<h1>Why the model said so</h1>
<p class="muted">Model {{ run.name }}, threshold {{ "%.3f"|format(run.threshold) }} (chosen on validation),
{{ run.image_size }} px. Each heatmap is Grad-CAM on the model's last convolutional block: red is where the
evidence for "fake" was strongest.</p>
{% for entry in entries %}
{% set v = entry.verdict %}
<section class="card">
  <h2>{{ v.path }}</h2>
  {% if v.status == "scored" %}
  <p class="verdict {{ v.label }}">{{ v.label }} &middot; P(fake) {{ "%.3f"|format(v.prob_fake) }}</p>
  {% else %}
  <p class="error">{{ v.error }}</p>
  {% endif %}
  {% if v.note %}<p class="muted">{{ v.note }}</p>{% endif %}
  {% if entry.problem %}<p class="muted">No heatmap: {{ entry.problem }}</p>{% endif %}
  <div class="faces">
  {% for image in entry.images %}
    {% set face = (v.faces or [])[loop.index0] if (v.faces and v.scored_on == "faces") else none %}
    <figure class="face"><img src="{{ image }}" alt="heatmap {{ loop.index }}">
      <figcaption>{% if face %}face at {{ face.box[0] }},{{ face.box[1] }} ({{ face.box[2] }}x{{ face.box[3] }}):
        <span class="{{ face.label }}">{{ face.label }}</span> {{ "%.3f"|format(face.prob_fake) }}
        {% elif v.kind == "video" %}most suspicious frame{% else %}whole image{% endif %}</figcaption></figure>
  {% endfor %}
  </div>
</section>
{% endfor %}
</main></body></html>
""")

PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Is this picture real? deepfake-zoo</title>
<link rel="icon" href="data:,"><style>{{ css }}</style></head>
<body><main>
<h1>Is this picture real?</h1>
<p class="muted">Drop a photo or a short video. It is checked on this computer only, and forgotten after the answer.</p>
<section class="card" id="about">
  <h2>The model answering</h2>
  <dl>
    <dt>Model</dt><dd id="model-name">{{ model.name }}</dd>
    <dt>Says fake at</dt><dd>P(fake) &ge; {{ "%.3f"|format(model.threshold) }} (threshold chosen on validation)</dd>
    <dt>Test accuracy</dt><dd>{{ model.accuracy }}</dd>
    <dt>Test ROC AUC</dt><dd>{{ model.roc_auc }}</dd>
    <dt>Trained on</dt><dd>{{ model.trained_on }}</dd>
    {% if model.cross %}<dt>Other data</dt><dd>{{ model.cross }}</dd>{% endif %}
  </dl>
  <p class="muted">{{ model.trust }}</p>
</section>
<label id="drop" for="file">Drop an image or video here, or tap to choose one
  <input id="file" type="file" accept="image/*,video/*" hidden></label>
<p id="status" class="muted" role="status"></p>
<section class="card" id="result" hidden>
  <p class="verdict" id="verdict"></p>
  <p class="muted" id="note"></p>
  <div id="stage"></div>
  <div class="faces" id="faces"></div>
</section>
</main>
<script>
const THRESHOLD = {{ model.threshold|tojson }};
{{ js|safe }}
</script>
</body></html>
""")

JS = r"""
const drop = document.getElementById("drop"), input = document.getElementById("file");
const statusLine = document.getElementById("status"), result = document.getElementById("result");
const fmt = p => p.toFixed(3);

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function bar(prob) {
  const outer = el("div", {class: "bar", title: "P(fake) against the threshold"});
  const colour = prob >= THRESHOLD ? "#b3261e" : "#1b6e3a";
  const fill = el("span", {style: `width:${Math.round(prob * 100)}%;background:${colour}`});
  outer.append(fill, el("i", {style: `left:${THRESHOLD * 100}%`}));
  return outer;
}

function show(file, answer) {
  const r = answer.results[0];
  const stage = document.getElementById("stage"), faces = document.getElementById("faces");
  stage.replaceChildren(); faces.replaceChildren();
  const verdict = document.getElementById("verdict");
  if (r.status !== "scored") {
    verdict.className = "verdict error"; verdict.textContent = r.error;
  } else {
    verdict.className = "verdict " + r.label;
    const word = r.label === "fake" ? "Fake" : "Real";
    verdict.textContent = `${word}: P(fake) ${fmt(r.prob_fake)} (fake at ${fmt(THRESHOLD)} or more)`;
  }
  document.getElementById("note").textContent = r.note || (r.kind === "video" && r.frames_sampled ?
    `${r.frames_with_face} of ${r.frames_sampled} sampled frames showed a face; P(fake) is their mean.` : "");
  const url = URL.createObjectURL(file);
  const media = r.kind === "video" ? el("video", {src: url, controls: ""}) : el("img", {src: url, alt: "your picture"});
  stage.append(media);
  const place = () => {
    const w = media.naturalWidth || media.videoWidth, h = media.naturalHeight || media.videoHeight;
    if (r.kind !== "image" || !w) return;
    for (const [i, face] of (r.faces || []).entries()) {
      if (face.prob_fake === null) continue;
      const [x, y, bw, bh] = face.box;
      const box = el("div", {class: "box " + face.label, "data-face": i,
        style: `left:${100 * x / w}%;top:${100 * y / h}%;width:${100 * bw / w}%;height:${100 * bh / h}%`});
      box.append(el("b", {}, `${i + 1}: ${fmt(face.prob_fake)}`));
      stage.append(box);
    }
  };
  media.addEventListener(r.kind === "video" ? "loadedmetadata" : "load", place);
  const heatmaps = answer.heatmaps || [];
  heatmaps.forEach((png, i) => {
    const face = r.scored_on === "faces" ? r.faces[i] : null;
    const prob = face ? face.prob_fake : r.prob_fake;
    const fig = el("figure", {class: "face"});
    fig.append(el("img", {src: "data:image/png;base64," + png, alt: "heatmap " + (i + 1), class: "heatmap"}));
    const label = face ? `Face ${i + 1}` : (r.kind === "video" ? "Most suspicious frame" : "Whole image");
    const cap = el("figcaption");
    cap.append(el("span", {}, `${label}: `), el("span", {class: prob >= THRESHOLD ? "fake" : "real"},
      `${prob >= THRESHOLD ? "fake" : "real"} ${fmt(prob)}`), bar(prob));
    fig.append(cap);
    faces.append(fig);
  });
  if (answer.heatmap_note) faces.append(el("p", {class: "muted"}, answer.heatmap_note));
  result.hidden = false;
}

async function send(file) {
  statusLine.textContent = `Checking ${file.name}...`;
  result.hidden = true;
  const form = new FormData();
  form.append("file", file);
  try {
    const response = await fetch("api/predict?explain=1", {method: "POST", body: form});
    const answer = await response.json();
    if (!response.ok) { statusLine.textContent = answer.detail || `The server answered ${response.status}.`; return; }
    statusLine.textContent = "";
    show(file, answer);
  } catch (err) {
    statusLine.textContent = "The server could not be reached; is `deepfake-zoo serve` still running?";
  }
}

input.addEventListener("change", () => input.files[0] && send(input.files[0]));
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
"""


def render_explain(entries: list[dict], run) -> str:
    """The --explain summary: per input its verdict, note and heatmap files (names relative to the page)."""
    return EXPLAIN.render(entries=entries, run=run, css=CSS)


def render_page(model: dict) -> str:
    """The `serve` page for `model` (name, threshold, accuracy, roc_auc, trained_on, cross, trust as display text)."""
    return PAGE.render(model=model, css=CSS, js=JS)
