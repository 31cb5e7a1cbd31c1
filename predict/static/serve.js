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
