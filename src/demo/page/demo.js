// The demo page: draws what the server computed. No mathematics here: every number comes from the
// server's JSON API (src/demo/server.py), computed by the project's own Python code.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

// What the page knows; window.demo lets a test read exactly what the page received.
const state = {
  model: null,        // GET /api/model
  input: null,        // the network's input L_1 (what the server made of the drawing or the sample)
  inputSource: "",    // "drawing" or "test digit ..."
  forward: null,      // POST /api/forward
  backprop: null,     // POST /api/backprop
  digit: null,        // the expected digit E; follows the prediction until the user picks one
  digitPicked: false,
  weight: null,       // {layer, neuron, source} of the chain rule; a default until the user picks one
  weightPicked: false,
  step: null,         // POST /api/step
};
window.demo = state;

// ---------------------------------------------------------------------------------------------- API

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

function showError(error) {
  const box = $("error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

// Requests in order, at most one in flight: while drawing, only the latest drawing is sent next.
let busy = false;
let pending = null;
function request(task) {
  pending = task;
  if (!busy) drain();
}
async function drain() {
  busy = true;
  while (pending) {
    const task = pending;
    pending = null;
    try {
      await task();
      showError(null);
    } catch (error) {
      showError(error);
    }
  }
  busy = false;
  document.body.dataset.idle = "true";
}
function markBusy() { document.body.dataset.idle = "false"; }

// ---------------------------------------------------------------------------------------- colours

// activation in [0, 1] -> from dark blue-grey to bright yellow
function glow(value) {
  const t = Math.max(0, Math.min(1, value));
  const r = Math.round(30 + t * (255 - 30)), g = Math.round(34 + t * (221 - 34)), b = Math.round(52 + t * (87 - 52));
  return `rgb(${r},${g},${b})`;
}
// signed value / scale in [-1, 1] -> blue (negative), dark (0), orange (positive), as [r, g, b]
function diverging(value, scale) {
  const t = scale > 0 ? Math.max(-1, Math.min(1, value / scale)) : 0;
  const base = [30, 34, 52], pos = [255, 138, 76], neg = [77, 166, 255];
  const end = t >= 0 ? pos : neg, s = Math.abs(t);
  return base.map((c, i) => Math.round(c + s * (end[i] - c)));
}
const maxAbs = (values) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const fmt = (value, digits = 4) => {
  if (value === null) return "±∞ (a saturated: 0 × ∞)";
  if (value === 0) return "0";
  const a = Math.abs(value);
  return a >= 1e-3 && a < 1e4 ? value.toFixed(digits) : value.toExponential(2);
};

// the same, on a square-root scale: small gradients stay visible next to large ones
function divergingSqrt(value, scale) {
  return diverging(Math.sign(value) * Math.sqrt(Math.abs(value) * scale), scale);
}

// A side x side (or rows x cols) image of values on a canvas, one canvas pixel per value.
function paintImage(canvas, values, rows, cols, colour) {
  canvas.width = cols;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  values.forEach((value, i) => {
    const [r, g, b] = colour(value);
    image.data.set([r, g, b, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}
const grey = (value) => { const v = Math.round(255 * Math.max(0, Math.min(1, value))); return [v, v, v]; };

// Bars get their width from data-width (per cent) through the CSSOM: the page's Content-Security-Policy
// allows no inline style attributes.
function sizeBars(element) {
  element.querySelectorAll("[data-width]").forEach((bar) => { bar.style.width = `${bar.dataset.width}%`; });
}

// ---------------------------------------------------------------------------------------- drawing

const canvas = $("canvas");
const pen = canvas.getContext("2d");
let drawing = false;
let last = null;

function setUpCanvas(side) {
  const scale = Math.ceil(280 / side);
  canvas.width = canvas.height = side * scale;
  // MNIST strokes are about a tenth of the digit's height; the 8x8 digits' about a seventh
  pen.lineWidth = canvas.width * (side <= 8 ? 0.1 : 0.075);
  pen.lineCap = pen.lineJoin = "round";
  pen.strokeStyle = "white";
  clearCanvas();
}
function clearCanvas() {
  pen.fillStyle = "black";
  pen.fillRect(0, 0, canvas.width, canvas.height);
}
function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}
let showingSample = false; // a picked test digit is on the canvas: a new stroke starts on a clean one
canvas.addEventListener("pointerdown", (event) => {
  if (showingSample) clearCanvas();
  showingSample = false;
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  last = point(event);
  pen.beginPath();
  pen.arc(last[0], last[1], pen.lineWidth / 2, 0, 2 * Math.PI);
  pen.fillStyle = "white";
  pen.fill();
  sendDrawing();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const next = point(event);
  pen.beginPath();
  pen.moveTo(...last);
  pen.lineTo(...next);
  pen.stroke();
  last = next;
  sendDrawing();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => { if (drawing) { drawing = false; sendDrawing(); } });
}
$("clear").addEventListener("click", () => { clearCanvas(); showingSample = false; sendDrawing(); });

function sendDrawing() {
  markBusy();
  const png = canvas.toDataURL("image/png");
  request(async () => {
    const result = await api("/api/forward", {png});
    state.inputSource = "your drawing";
    if (!state.digitPicked) state.digit = result.prediction;
    await showForward(result);
  });
}
function sendSample(index) {
  markBusy();
  const {images, labels} = state.model.samples;
  const side = state.model.side;
  // show the test digit on the canvas, scaled up; drawing on top of it sends the canvas again
  const small = document.createElement("canvas");
  paintImage(small, images[index], side, side, grey);
  pen.imageSmoothingEnabled = false;
  pen.drawImage(small, 0, 0, canvas.width, canvas.height);
  showingSample = true;
  request(async () => {
    const result = await api("/api/forward", {input: images[index]});
    state.inputSource = `test digit #${index} (labelled ${labels[index]})`;
    if (!state.digitPicked) state.digit = labels[index];
    await showForward(result);
  });
}

// ------------------------------------------------------------------------------------ forward pass

async function showForward(result) {
  state.forward = result;
  state.input = result.input;
  const side = state.model.side;
  paintImage($("input-image"), result.input, side, side, grey);
  $("input-caption").textContent =
    `L1, the input layer: ${state.inputSource} reduced to ${side} × ${side} = ${side * side} pixels ` +
    `exactly as python -m src.predict reduces an image file (ink bright on dark, its box scaled and centred as in the training set).`;
  drawNetwork(result.activations);
  drawFirstLayerActivity(result.activations[1]);
  const prediction = $("prediction");
  prediction.dataset.digit = result.prediction;
  const output = result.activations[result.activations.length - 1];
  prediction.innerHTML = `The network says <b>${result.prediction}</b>
    <span class="hint">(output neuron ${result.prediction} is the most active: a = ${fmt(output[result.prediction])})</span>`;
  if (state.digit === null) state.digit = result.prediction;
  if (!state.weightPicked) state.weight = defaultWeight();
  await runBackprop();
}

// The essay's W_{1,1} lives in the output layer: the weight into the expected digit's neuron from the
// most active neuron of the layer before.
function defaultWeight() {
  const acts = state.forward.activations;
  const previous = acts[acts.length - 2];
  const source = previous.indexOf(Math.max(...previous));
  return {layer: acts.length, neuron: state.digit ?? 0, source};
}

function drawNetwork(activations) {
  const svg = $("network");
  const sizes = state.model.sizes;
  const width = 560, height = 330, top = 22, bottom = 18;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const layers = activations.length;
  const inputBox = 92; // the input layer is drawn as its image
  const first = 10 + inputBox + 70, lastX = width - 150; // room on the right for the output bars
  const x = (l) => l === 0 ? 10 + inputBox / 2 : first + (l - 1) * ((lastX - first) / Math.max(1, layers - 2));
  const positions = activations.map((values, l) => {
    if (l === 0) return [];
    const n = values.length, span = height - top - bottom;
    const gap = span / n, radius = Math.max(1.5, Math.min(10, gap * 0.38));
    return values.map((_, i) => ({x: x(l), y: top + gap * (i + 0.5), r: radius}));
  });
  const g = (cls) => { const node = document.createElementNS(SVG, "g"); node.setAttribute("class", cls); svg.append(node); return node; };
  const lines = g("links"), neurons = g("neurons"), labels = g("labels");
  // the input: the image itself, linked to the first hidden layer by a fan
  const image = document.createElementNS(SVG, "image");
  image.setAttribute("href", $("input-image").toDataURL());
  image.setAttribute("x", 10); image.setAttribute("y", height / 2 - inputBox / 2);
  image.setAttribute("width", inputBox); image.setAttribute("height", inputBox);
  image.setAttribute("class", "pixelated");
  neurons.append(image);
  for (const p of positions[1]) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", 10 + inputBox); line.setAttribute("y1", height / 2);
    line.setAttribute("x2", p.x); line.setAttribute("y2", p.y);
    line.setAttribute("class", "fan");
    lines.append(line);
  }
  // links between the later layers: weight x the activation it carries
  for (let l = 2; l < layers; l++) {
    const weights = weightMatrix(l + 1); // W_{l+1,l} feeds activations[l] (essay layer l + 1)
    const carried = weights.map((row) => row.map((w, k) => w * activations[l - 1][k]));
    const scale = maxAbs(carried.flat());
    carried.forEach((row, j) => row.forEach((value, k) => {
      const line = document.createElementNS(SVG, "line");
      const from = positions[l - 1][k], to = positions[l][j];
      line.setAttribute("x1", from.x); line.setAttribute("y1", from.y);
      line.setAttribute("x2", to.x); line.setAttribute("y2", to.y);
      line.setAttribute("stroke", `rgb(${diverging(value, scale).join(",")})`);
      line.setAttribute("stroke-opacity", (0.08 + 0.9 * Math.abs(value) / (scale || 1)).toFixed(3));
      lines.append(line);
    }));
  }
  activations.forEach((values, l) => {
    if (l === 0) return;
    values.forEach((value, i) => {
      const p = positions[l][i];
      const circle = document.createElementNS(SVG, "circle");
      circle.setAttribute("cx", p.x); circle.setAttribute("cy", p.y); circle.setAttribute("r", p.r);
      circle.setAttribute("fill", glow(value));
      circle.setAttribute("class", "neuron");
      circle.dataset.layer = l + 1;
      circle.dataset.index = i;
      circle.dataset.value = value;
      const title = document.createElementNS(SVG, "title");
      title.textContent = `layer ${l + 1}, neuron ${i}: a = ${value}`;
      circle.append(title);
      neurons.append(circle);
      if (l === layers - 1) {
        const text = document.createElementNS(SVG, "text");
        text.setAttribute("x", p.x + p.r + 6); text.setAttribute("y", p.y + 4);
        text.textContent = `${i}`;
        const bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("x", p.x + p.r + 20); bar.setAttribute("y", p.y - 5);
        bar.setAttribute("width", Math.max(0.5, 70 * value)); bar.setAttribute("height", 10);
        bar.setAttribute("class", i === state.forward.prediction ? "bar best" : "bar");
        const number = document.createElementNS(SVG, "text");
        number.setAttribute("x", p.x + p.r + 96); number.setAttribute("y", p.y + 4);
        number.setAttribute("class", "value");
        number.textContent = value.toFixed(3);
        labels.append(text, bar, number);
      }
    });
    const caption = document.createElementNS(SVG, "text");
    caption.setAttribute("x", positions[l][0].x); caption.setAttribute("y", 12);
    caption.setAttribute("class", "caption");
    caption.textContent = `L${l + 1} (${sizes[l]})`;
    labels.append(caption);
  });
  const caption = document.createElementNS(SVG, "text");
  caption.setAttribute("x", 10 + inputBox / 2); caption.setAttribute("y", height / 2 - inputBox / 2 - 8);
  caption.setAttribute("class", "caption");
  caption.textContent = `L1 (${sizes[0]})`;
  labels.append(caption);
}

// W_{l,l-1} (rows: neurons of layer l) from the parameter rows the server sent
function weightMatrix(layer) {
  return state.model.weights[layer - 2];
}

// the cell {row, col} of a rows x cols image that a click landed on
function clickedCell(event, image, rows, cols) {
  const box = image.getBoundingClientRect();
  return {
    row: Math.floor((event.clientY - box.top) / box.height * rows),
    col: Math.floor((event.clientX - box.left) / box.width * cols),
  };
}

// In the element `id`, one side x side tile per row of `rows` (first-layer weights or their gradients),
// each pixel painted colour(value, max |value|); `meter`: a bar under each image (the neuron's activation);
// onClick(j, cell): a click on neuron j's image, at a {row, col} of its pixels
function tileGrid(id, rows, colour, {meter = false, onClick = null} = {}) {
  const side = state.model.side;
  const scale = maxAbs(rows.flat());
  const tiles = $(id);
  tiles.replaceChildren();
  rows.forEach((row, j) => {
    const tile = document.createElement("figure");
    tile.className = onClick ? "tile clickable" : "tile";
    const image = document.createElement("canvas");
    image.className = "pixelated";
    paintImage(image, row, side, side, (value) => colour(value, scale));
    if (onClick) image.addEventListener("click", (event) => onClick(j, clickedCell(event, image, side, side)));
    tile.append(image);
    if (meter) {
      const bar = document.createElement("div");
      bar.className = "meter";
      bar.innerHTML = "<span></span>";
      tile.append(bar);
    }
    const caption = document.createElement("figcaption");
    caption.textContent = `n${j}`;
    tile.append(caption);
    tiles.append(tile);
  });
}

function drawFirstLayerWeights() {
  tileGrid("first-weights", state.model.weights[0], diverging, {meter: true});
}
function drawFirstLayerActivity(values) {
  [...$("first-weights").children].forEach((tile, j) => {
    tile.querySelector(".meter span").style.width = `${100 * Math.max(0, Math.min(1, values[j]))}%`;
    tile.querySelector("figcaption").textContent = `n${j}  a=${values[j].toFixed(2)}`;
    tile.style.borderColor = glow(values[j]);
  });
}

// --------------------------------------------------------------------------------- backpropagation

function drawDigitButtons() {
  const box = $("digits");
  box.replaceChildren();
  for (let k = 0; k < state.model.sizes[state.model.sizes.length - 1]; k++) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = k;
    button.dataset.digit = k;
    button.addEventListener("click", () => {
      state.digit = k;
      state.digitPicked = true;
      if (!state.weightPicked) state.weight = defaultWeight();
      markBusy();
      request(runBackprop);
    });
    box.append(button);
  }
}

async function runBackprop() {
  if (state.input === null) return;
  const result = await api("/api/backprop", {input: state.input, digit: state.digit, weight: state.weight});
  state.backprop = result;
  [...$("digits").children].forEach((b) => b.classList.toggle("chosen", Number(b.dataset.digit) === state.digit));
  showCost(result);
  showDeltas(result.deltas);
  showGradients(result.grad_weights);
  showChain(result.chain);
}

function showCost(result) {
  const cost = $("cost");
  cost.dataset.value = result.cost;
  cost.innerHTML = `C = <b>${fmt(result.cost)}</b> <span class="hint">for E = digit ${result.digit}; ‖∇C‖ = ${fmt(result.grad_norm)}</span>`;
  const rows = result.output.map((a, k) => {
    const e = result.expected[k], term = result.cost_terms[k];
    const width = Math.min(100, 100 * term);
    return `<tr class="${e === 1 ? "expected" : ""}"><td>${k}</td><td>${a.toFixed(4)}</td><td>${e}</td>
      <td>${fmt(term)}</td><td class="barcell"><span data-width="${width}"></span></td></tr>`;
  });
  const term = state.model.cost === "cross_entropy"  // each output neuron's term of the checkpoint's cost
    ? "−[E<sub>k</sub> ln a<sub>k</sub> + (1 − E<sub>k</sub>) ln(1 − a<sub>k</sub>)]"
    : "(a<sub>k</sub> − E<sub>k</sub>)²";
  $("cost-terms").innerHTML = `<tr><th>k</th><th>a<sub>k</sub></th><th>E<sub>k</sub></th>
    <th>${term}</th><th></th></tr>${rows.join("")}`;
  sizeBars($("cost-terms"));
}

function showDeltas(deltas) {
  const box = $("deltas");
  box.replaceChildren();
  deltas.slice().reverse().forEach((delta, r) => {
    const layer = deltas.length + 1 - r;
    const scale = maxAbs(delta);
    const row = document.createElement("div");
    row.className = "delta-row";
    const label = document.createElement("span");
    label.className = "delta-label";
    label.innerHTML = `δ<sub>${layer}</sub>`;
    const cells = document.createElement("span");
    cells.className = "cells";
    delta.forEach((value, j) => {
      const cell = document.createElement("span");
      cell.style.background = `rgb(${diverging(value, scale).join(",")})`;
      cell.title = `layer ${layer}, neuron ${j}: δ = ${value}`;
      cell.dataset.value = value;
      cells.append(cell);
    });
    const size = document.createElement("span");
    size.className = "hint";
    size.textContent = `max |δ| = ${fmt(scale)}`;
    row.append(label, cells, size);
    box.append(row);
  });
}

function showGradients(grads) {
  const side = state.model.side;
  tileGrid("grads", grads[0], divergingSqrt, {
    onClick: (j, cell) => chooseWeight({layer: 2, neuron: j, source: cell.row * side + cell.col}),
  });
  // the deeper weight matrices as heat maps: rows are neurons j of layer l, columns neurons k of l-1
  const deeper = $("grads-deeper");
  deeper.replaceChildren();
  grads.slice(1).forEach((matrix, i) => {
    const layer = i + 3;
    const figure = document.createElement("figure");
    figure.className = "matrix clickable";
    const image = document.createElement("canvas");
    image.className = "pixelated";
    const rows = matrix.length, cols = matrix[0].length, s = maxAbs(matrix.flat());
    paintImage(image, matrix.flat(), rows, cols, (g) => divergingSqrt(g, s));
    image.style.width = `${Math.min(240, cols * 12)}px`;
    image.addEventListener("click", (event) => {
      const cell = clickedCell(event, image, rows, cols);
      chooseWeight({layer, neuron: cell.row, source: cell.col});
    });
    const caption = document.createElement("figcaption");
    caption.innerHTML = `∂C/∂W<sub>${layer},${layer - 1}</sub> (${rows} × ${cols})`;
    figure.append(image, caption);
    deeper.append(figure);
  });
}

function chooseWeight(weight) {
  state.weight = weight;
  state.weightPicked = true;
  markBusy();
  request(runBackprop);
}

function showChain(chain) {
  const {layer, neuron: j, source: k} = chain;
  $("pick-layer").value = layer; $("pick-neuron").value = j; $("pick-source").value = k;
  const sizes = state.model.sizes;
  $("pick-layer").max = sizes.length; $("pick-neuron").max = sizes[layer - 1] - 1; $("pick-source").max = sizes[layer - 2] - 1;
  const prev = layer - 1;
  const where = layer === 2 && state.model.side
    ? `pixel (row ${Math.floor(k / state.model.side)}, column ${k % state.model.side}) of the input`
    : `neuron ${k} of layer ${prev}`;
  const [a, e] = [fmt(chain.a), state.backprop.expected[j]];
  const dCda = !chain.output_layer
    ? `(δ<sub>${layer + 1}</sub> W<sub>${layer + 1},${layer}</sub>)<sub>${j}</sub>, the error passed back`
    : state.model.cost === "cross_entropy"
      ? `(a − E) / (a(1 − a)) = (${a} − ${e}) / (${a}(1 − ${a}))`
      : `2(a − E) = 2(${a} − ${e})`;
  const dadAS = chain.activation === "sigmoid" ? `S′(AS) = a(1 − a)` : `${chain.activation}′(AS)`;
  const agree = chain.product !== null && Math.abs(chain.product - chain.backprop) <= 1e-6 * Math.max(1, Math.abs(chain.backprop));
  const box = $("chain");
  box.dataset.product = chain.product;
  box.dataset.backprop = chain.backprop;
  box.innerHTML = `
    <p>W = W<sub>${layer},${prev}</sub>[${j}, ${k}] = ${fmt(chain.weight)}: from ${where} to neuron ${j} of layer ${layer}
      (a = ${fmt(chain.a)})</p>
    <table class="chain-table">
      <tr><td>∂C/∂a</td><td>= ${dCda}</td><td class="num">${fmt(chain.dcost_da, 6)}</td></tr>
      <tr><td>∂a/∂AS</td><td>= ${dadAS}</td><td class="num">× ${fmt(chain.da_dsum, 6)}</td></tr>
      <tr><td>∂AS/∂W</td><td>= a<sub>k</sub>, the activation W carries</td><td class="num">× ${fmt(chain.dsum_dw, 6)}</td></tr>
      <tr class="total"><td>∂C/∂W</td><td>= the product</td><td class="num">= ${fmt(chain.product, 6)}</td></tr>
      <tr><td></td><td>Backpropagation.backward gives</td><td class="num ${agree ? "agree" : "disagree"}">${fmt(chain.backprop, 6)} ${agree ? "✓" : "✗"}</td></tr>
    </table>
    <p class="hint">An SGD step moves this weight by −r × ∂C/∂W = ${fmt(-Number($("rate").value) * chain.backprop, 6)}.</p>`;
}

for (const id of ["pick-layer", "pick-neuron", "pick-source"]) {
  $(id).addEventListener("change", () => {
    const sizes = state.model.sizes;
    const layer = Math.max(2, Math.min(sizes.length, Math.round(Number($("pick-layer").value)) || 2));
    const clamp = (v, n) => Math.max(0, Math.min(n - 1, Math.round(Number(v)) || 0));
    chooseWeight({layer, neuron: clamp($("pick-neuron").value, sizes[layer - 1]), source: clamp($("pick-source").value, sizes[layer - 2])});
  });
}

// ------------------------------------------------------------------------------------------- SGD

$("sgd-step").addEventListener("click", () => {
  markBusy();
  request(async () => {
    if (state.input === null) throw new Error("draw a digit or pick one first");
    const result = await api("/api/step", {input: state.input, digit: state.digit, rate: Number($("rate").value)});
    state.step = result;
    await reloadModel();
    await showForward(await api("/api/forward", {input: state.input}));
    showStep(result);
  });
});
$("reset").addEventListener("click", () => {
  markBusy();
  request(async () => {
    await api("/api/reset", {});
    state.step = null;
    $("sgd-result").replaceChildren();
    await reloadModel();
    if (state.input !== null) await showForward(await api("/api/forward", {input: state.input}));
  });
});

function showStep(result) {
  const rows = result.output_before.map((before, k) => {
    const after = result.output_after[k], moved = after - before;
    return `<tr class="${k === state.digit ? "expected" : ""}"><td>${k}</td>
      <td class="barcell"><span class="before" data-width="${100 * before}"></span><span class="after" data-width="${100 * after}"></span></td>
      <td>${before.toFixed(4)} → ${after.toFixed(4)}</td><td class="${moved >= 0 ? "up" : "down"}">${moved >= 0 ? "+" : ""}${fmt(moved)}</td></tr>`;
  });
  $("sgd-result").innerHTML = `
    <p>Step ${result.steps} with r = ${result.rate}: C went from <b>${fmt(result.cost_before)}</b> to
      <b id="cost-after" data-value="${result.cost_after}">${fmt(result.cost_after)}</b>.
      Each output moved (<span class="swatch before"></span> before, <span class="swatch after"></span> after):</p>
    <table class="terms moved">${rows.join("")}</table>`;
  sizeBars($("sgd-result"));
}

async function reloadModel() {
  state.model = await api("/api/model");
  drawFirstLayerWeights();
  $("steps").textContent = state.model.steps === 0
    ? "the network is the checkpoint's"
    : `${state.model.steps} SGD step${state.model.steps === 1 ? "" : "s"} taken on the in-memory copy`;
}

// ------------------------------------------------------------------------------------------ start

function drawSamples() {
  const {images, labels, note} = state.model.samples;
  const box = $("samples");
  box.replaceChildren();
  images.forEach((image, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sample";
    button.title = `test digit #${i}, labelled ${labels[i]}`;
    button.dataset.index = i;
    const small = document.createElement("canvas");
    small.className = "pixelated";
    paintImage(small, image, state.model.side, state.model.side, grey);
    button.append(small);
    button.addEventListener("click", () => sendSample(i));
    box.append(button);
  });
  $("samples-note").textContent = note;
}

async function start() {
  try {
    await reloadModel();
  } catch (error) {
    showError(error);
    return;
  }
  const m = state.model;
  $("model-info").innerHTML = `A ${m.sizes.join("–")} network (${m.hidden_activation} hidden layers,
    ${m.output_activation} outputs, ${m.cost === "mse" ? "quadratic" : m.cost} cost), straight from its checkpoint.`;
  if (m.cost === "cross_entropy") {
    $("cost-title").innerHTML = "The cost C = −Σ<sub>k</sub> [E<sub>k</sub> ln a<sub>k</sub> + (1 − E<sub>k</sub>) ln(1 − a<sub>k</sub>)]";
  }
  $("rate").value = m.rate;
  $("rate").max = m.max_rate;  // the largest rate the step API takes
  setUpCanvas(m.side);
  drawSamples();
  drawDigitButtons();
  if (m.samples.images.length) sendSample(0);
  else sendDrawing();
}
start();
