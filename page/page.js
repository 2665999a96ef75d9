// The page at GET /: plain DOM code, no framework, no build step. It talks to this service only (same origin;
// the Content-Security-Policy allows nothing else), and keeps the API key in this page's memory only.

const $ = (id) => document.getElementById(id);

const state = {
  /** The API key typed in, sent as `Authorization: Bearer`; never written to storage. */
  key: '',
  /** The models from GET /models. */
  models: [],
  /** The prompt sets of the selected model, by name. */
  promptSets: new Map(),
  /** The preview in flight, cancelled when a newer one starts. */
  previewAbort: undefined,
  previewUrl: undefined,
  /** The model and rendering fields of the preview shown or on its way, so that an unchanged one is not asked again. */
  previewKey: undefined,
  /** Counts the files chosen: an answer that arrives for an earlier file is not shown under the new one. */
  file: 0,
};

/** An answer of the API other than 2xx: its `{"error": {code, message, field?}}`. */
class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (state.key !== '') headers.authorization = `Bearer ${state.key}`;
  const res = await fetch(path, { ...init, headers });
  if (res.ok) return res;
  let error;
  try {
    error = (await res.json()).error;
  } catch {
    error = undefined;
  }
  throw new ApiError(res.status, error?.code ?? 'error', error?.message ?? `${res.status} ${res.statusText}`, error?.field);
}

// ---- errors next to the field they are about --------------------------------------------------------------

/** `error.field` -> the control it is shown next to (the API's names; `images` is the page's one image). */
const FIELD_CONTROLS = {
  image: 'image',
  images: 'image',
  model: 'model',
  prompt_set: 'prompt_set',
  labels: 'labels',
  templates: 'templates',
  window: 'window',
  window_center: 'window_center',
  window_width: 'window_width',
  frame: 'frame',
  coverage: 'coverage',
  min_probability: 'min_probability',
};

function clearErrors() {
  for (const p of document.querySelectorAll('.error')) {
    p.textContent = '';
    p.hidden = true;
  }
  for (const el of document.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows `message` next to the control of `field` (or at the top of the form); returns that control. */
function showError(message, field) {
  let control = field === undefined ? undefined : $(FIELD_CONTROLS[field] ?? '');
  if (control && control.closest('[hidden]')) control = undefined;
  const box = control ? $(`${control.id}-error`) : $('form-error');
  box.textContent = field !== undefined && !control ? `${field}: ${message}` : message;
  box.hidden = false;
  if (control) control.setAttribute('aria-invalid', 'true');
  return control;
}

function showApiError(err, focus) {
  if (!(err instanceof ApiError)) throw err;
  // 401/403: the key (a missing, wrong or insufficient one) is the input at fault.
  const field = err.status === 401 || err.status === 403 ? 'api-key' : err.field;
  const control = field === 'api-key' ? (showKeyError(err.message), $('api-key')) : showError(err.message, field);
  if (focus && control) control.focus();
  // Also in the status region, which screen readers announce: the field's own message may not be in view.
  setStatus(`Refused: ${err.message}`);
}

function showKeyError(message) {
  $('api-key-error').textContent = message;
  $('api-key-error').hidden = false;
  $('api-key').setAttribute('aria-invalid', 'true');
}

function setStatus(text) {
  $('status').textContent = text;
}

// ---- models and prompt sets --------------------------------------------------------------------------------

async function loadModels() {
  clearErrors();
  try {
    const { default: defaultId, models } = await (await api('/models')).json();
    state.models = models;
    const select = $('model');
    select.replaceChildren(...models.map((m) => new Option(m.id, m.id, m.id === defaultId, m.id === defaultId)));
    await modelChanged();
  } catch (err) {
    showApiError(err, false);
  }
}

function showIntendedUse(model) {
  const note = $('intended-use');
  const parts = [];
  if (!model?.diagnostic_use) {
    const strong = document.createElement('strong');
    strong.textContent = 'Not for diagnostic use.';
    parts.push(strong, ' ');
  }
  if (model) parts.push(`Intended use of ${model.id}: ${model.intended_use || 'not stated by its model.json.'}`);
  note.replaceChildren(...parts);
}

async function modelChanged() {
  const model = state.models.find((m) => m.id === $('model').value);
  showIntendedUse(model);
  if (!model) return;
  const { prompt_sets: sets } = await (await api(`/prompt-sets?model=${encodeURIComponent(model.id)}`)).json();
  state.promptSets = new Map(sets.map((s) => [s.name, s]));
  const select = $('prompt_set');
  const chosen = select.value;
  select.replaceChildren(new Option('None: use the labels below', ''), ...sets.map((s) => new Option(s.name, s.name)));
  select.value = state.promptSets.has(chosen) ? chosen : '';
  promptSetChanged();
}

function promptSetChanged() {
  const set = state.promptSets.get($('prompt_set').value);
  $('labels').disabled = set !== undefined;
  $('templates').disabled = set !== undefined;
  $('prompt_set-description').textContent = set ? `${set.description ? `${set.description}: ` : ''}${set.labels.join(', ')}` : '';
  const model = state.models.find((m) => m.id === $('model').value);
  const unavailable = coverageUnavailable(model, set?.name);
  $('coverage').disabled = unavailable !== undefined;
  $('coverage-hint').textContent =
    unavailable ?? 'The smallest set of labels that contains the true one with this probability, for images like the calibration images.';
}

/**
 * Why no prediction set can be asked for (undefined: it can). Only a calibrated prompt set has one: inline labels
 * were never calibrated. A model without `calibration` in GET /models (an older service) leaves it to the API.
 */
function coverageUnavailable(model, setName) {
  if (setName === undefined) return 'Needs a prompt set: labels typed in were never calibrated, so no coverage can be promised.';
  const calibration = model?.calibration;
  if (calibration === null) return `Model ${model.id} has no calibration, so it offers no prediction sets.`;
  if (calibration?.prompt_sets && !calibration.prompt_sets.includes(setName))
    return `Prompt set ${setName} has no calibration, so it offers no prediction sets.`;
  return undefined;
}

// ---- the image, its rendering options and the preview --------------------------------------------------------

/** The rendering fields the API takes (only those set), as [name, value] pairs. */
function renderingFields() {
  const fields = [];
  const window = $('window').value;
  const center = $('window_center').value.trim();
  const width = $('window_width').value.trim();
  if (window !== '') fields.push(['window', window]);
  if (center !== '') fields.push(['window_center', center]);
  if (width !== '') fields.push(['window_width', width]);
  if (!$('frame-row').hidden && $('frame').value.trim() !== '') fields.push(['frame', $('frame').value.trim()]);
  return fields;
}

function imageForm() {
  const form = new FormData();
  form.append('image', $('image').files[0]);
  // No model listed (the list did not load, e.g. a key is needed): the API's default, and its own answer.
  if ($('model').value !== '') form.append('model', $('model').value);
  for (const [name, value] of renderingFields()) form.append(name, value);
  return form;
}

function fileChosen() {
  clearErrors();
  state.previewKey = undefined;
  for (const id of ['window_center', 'window_width', 'frame']) $(id).value = '';
  $('window').value = '';
  $('dicom-options').hidden = true;
  $('frame-row').hidden = true;
  state.file += 1;
  // Nothing of the previous file stays on screen: not its preview, not its results.
  clearResults(true);
  void updatePreview();
}

async function updatePreview() {
  if ($('image').files.length === 0) return;
  const key = JSON.stringify([$('model').value, renderingFields()]);
  if (key === state.previewKey) return;
  state.previewKey = key;
  state.previewAbort?.abort();
  const abort = new AbortController();
  state.previewAbort = abort;
  clearErrors();
  setStatus('Rendering the preview…');
  try {
    const res = await api('/preview', { method: 'POST', body: imageForm(), signal: abort.signal });
    const record = JSON.parse(res.headers.get('x-preprocessing') ?? 'null');
    const blob = await res.blob();
    if (abort.signal.aborted) return;
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = URL.createObjectURL(blob);
    $('preview').src = state.previewUrl;
    $('preview-figure').hidden = false;
    $('preview-caption').textContent = `${record.transform.size} x ${record.transform.size} pixels, before normalization`;
    showPreprocessing(record);
    showDicomOptions(record);
    setStatus('Preview ready. Choose the classes and press Classify.');
  } catch (err) {
    if (abort.signal.aborted) return;
    state.previewKey = undefined;
    // The preview shown (if any) is of another file or rendering than the one just refused.
    clearResults(true);
    // A multi-frame DICOM object needs a frame: start at the first one, as a viewer would.
    if (err instanceof ApiError && err.field === 'frame' && $('frame-row').hidden) {
      $('dicom-options').hidden = false;
      $('frame-row').hidden = false;
      $('frame').value = '0';
      return updatePreview();
    }
    showApiError(err, false);
  }
}

function showDicomOptions(record) {
  const dicom = record.dicom;
  $('dicom-options').hidden = dicom === undefined;
  if (dicom === undefined) return;
  // Only greyscale DICOM has a window to change (colour DICOM is shown as stored).
  for (const id of ['window', 'window_center', 'window_width']) $(id).disabled = record.window === null;
  const frames = dicom.frames;
  $('frame-row').hidden = frames <= 1;
  $('frame').max = String(frames - 1);
  $('frame-hint').textContent = frames > 1 ? `${frames} frames, 0 to ${frames - 1}` : '';
}

// ---- classification ------------------------------------------------------------------------------------------

const lines = (text) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

async function classify(event) {
  event.preventDefault();
  clearErrors();
  if ($('image').files.length === 0) {
    showError('Choose an image first.', 'image').focus();
    return;
  }
  const form = imageForm();
  const set = $('prompt_set').value;
  if (set !== '') {
    form.append('prompt_set', set);
    if (!$('coverage').disabled && $('coverage').value !== '') form.append('coverage', $('coverage').value);
  } else {
    for (const label of lines($('labels').value)) form.append('labels', label);
    for (const template of lines($('templates').value)) form.append('templates', template);
  }
  const minimum = $('min_probability').value.trim();
  if (minimum !== '') form.append('min_probability', minimum);
  setStatus('Classifying…');
  $('classify').disabled = true;
  const file = state.file;
  const started = performance.now();
  try {
    const res = await api('/classify', { method: 'POST', body: form });
    const answer = await res.json();
    if (file !== state.file) return;
    const ms = performance.now() - started;
    showTrust(answer);
    showPredictions(answer.predictions, answer.abstained ?? null);
    showPreprocessing(answer.preprocessing);
    const setName = answer.prompt_set ? `, prompt set ${answer.prompt_set.name}` : '';
    $('latency').textContent = `Answered in ${Math.round(ms)} ms (upload, decoding and inference; model ${answer.model}${setName}).`;
    setStatus(answer.abstained ? 'Done: no answer for this image (see above).' : 'Done.');
  } catch (err) {
    if (file !== state.file) return;
    // The earlier results are not this request's; the preview stays only when the refusal is not about the image.
    clearResults(!(err instanceof ApiError) || !KEEPS_PREVIEW(err));
    showApiError(err, true);
  } finally {
    $('classify').disabled = false;
  }
}

/** A refusal about the key, the classes or the trust fields: the image (and its preview) was not at fault. */
const KEEPS_PREVIEW = (err) =>
  [401, 403, 429].includes(err.status) || ['model', 'prompt_set', 'labels', 'templates', 'coverage', 'min_probability'].includes(err.field);

/** Hides the results of an earlier answer (and, with `preview`, the preview and its preprocessing record). */
function clearResults(preview) {
  for (const id of ['abstention', 'ood-warning', 'prediction-set', 'predictions-block', 'calibration']) $(id).hidden = true;
  $('abstention').replaceChildren();
  $('predictions').replaceChildren();
  $('latency').textContent = '';
  if (!preview) return;
  $('preview-figure').hidden = true;
  $('preview').removeAttribute('src');
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = undefined;
  $('preview-caption').textContent = '';
  $('preprocessing-block').hidden = true;
  $('preprocessing').replaceChildren();
}

const percent = (p) => `${Number((p * 100).toFixed(1))}%`;
const score = (x) => x.toFixed(1);

function strong(text) {
  const b = document.createElement('strong');
  b.textContent = text;
  return b;
}

/** Why the service gave no answer, in words, with its score and threshold. */
function abstentionReason({ reason, score: value, threshold }) {
  if (reason === 'out_of_distribution')
    return `This image does not look like what the model knows (out-of-distribution score ${score(value)} > threshold ${score(threshold)}).`;
  if (reason === 'low_confidence')
    return `The model is not confident enough: its top probability ${percent(value)} is below the minimum asked for (${percent(threshold)}).`;
  return `Reason: ${reason} (score ${value}, threshold ${threshold}).`;
}

/** The answer's trust fields (issue 23): an abstention, an out-of-distribution warning, the prediction set, the calibration. */
function showTrust(answer) {
  const { abstained = null, out_of_distribution: ood = null, prediction_set: predictionSet, calibration } = answer;
  const notice = $('abstention');
  notice.hidden = abstained === null;
  if (abstained !== null) {
    const title = document.createElement('p');
    title.append(strong('No answer.'), ' ', abstentionReason(abstained));
    const rest = document.createElement('p');
    rest.textContent = 'The scores below are shown for reference only and are not to be acted on.';
    notice.replaceChildren(title, rest);
  }
  // Policy "report": the score is over the threshold but the service answered anyway.
  const over = abstained === null && ood !== null && ood.score > ood.threshold;
  $('ood-warning').hidden = !over;
  if (over) {
    $('ood-warning').replaceChildren(
      strong('Caution:'),
      ` this image does not look like what the model knows (out-of-distribution score ${score(ood.score)} > threshold ${score(ood.threshold)}); ` +
        'the service is set to report this, not to abstain.',
    );
  }
  showPredictionSet(predictionSet);
  const line = [];
  if (calibration) line.push(`Calibration ${calibration.id.slice(0, 12)}, temperature ${Number(calibration.temperature.toPrecision(4))}`);
  else if (calibration === null) line.push('Probabilities not calibrated (no calibration applies)');
  if (ood && !over && abstained === null) line.push(`out-of-distribution score ${score(ood.score)} (threshold ${score(ood.threshold)})`);
  $('calibration').textContent = line.length ? `${line.join('; ')}.` : '';
  $('calibration').title = calibration ? `calibration id (sha256) ${calibration.id}` : '';
  $('calibration').hidden = line.length === 0;
}

function showPredictionSet(predictionSet) {
  const box = $('prediction-set');
  box.hidden = predictionSet === undefined;
  if (predictionSet === undefined) return;
  if (predictionSet === null) {
    box.textContent = 'No prediction set: the service gave no answer, and its coverage holds only for images like the calibration images.';
    return;
  }
  const { coverage, labels } = predictionSet;
  if (labels.length === 0) {
    box.replaceChildren(`No label is plausible enough at ${percent(coverage)} coverage.`);
    return;
  }
  const names = labels.flatMap((label, i) => [...(i ? [', '] : []), strong(label)]);
  box.replaceChildren(`With ${percent(coverage)} coverage the answer is ${labels.length > 1 ? 'one of: ' : ''}`, ...names, '.');
}

function showPredictions(predictions, abstained = null) {
  const sorted = [...predictions].sort((a, b) => b.probability - a.probability);
  const items = sorted.map(({ label, probability, similarity }) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'bar-label';
    name.textContent = label;
    const track = document.createElement('span');
    track.className = 'bar-track';
    track.setAttribute('aria-hidden', 'true');
    const bar = document.createElement('span');
    bar.className = 'bar';
    // CSSOM, not a style attribute: the Content-Security-Policy allows no inline styles.
    bar.style.width = `${(probability * 100).toFixed(2)}%`;
    track.append(bar);
    const value = document.createElement('span');
    value.className = 'bar-value';
    value.textContent = `${(probability * 100).toFixed(1)}%`;
    value.title = `cosine similarity ${similarity.toFixed(3)}`;
    li.append(name, track, value);
    return li;
  });
  $('predictions').replaceChildren(...items);
  // Abstained: the scores stay visible, struck through and greyed, under a heading that says not to act on them.
  $('predictions-block').classList.toggle('abstained', abstained !== null);
  $('predictions-heading').textContent = abstained === null ? 'Predictions' : 'Scores (not to be acted on)';
  $('predictions-block').hidden = false;
}

const WINDOW_SOURCES = {
  request: 'the request',
  voi_lut: "the file's VOI LUT",
  file: "the file's Window Center/Width",
  auto: 'automatic (0.5th to 99.5th percentile of the pixels)',
};

function describeWindow(window) {
  if (window === undefined) return 'none (an 8-bit image is used as it is)';
  if (window === null) return 'none (colour DICOM, shown as stored)';
  const values = window.center === null ? 'a lookup table' : `center ${window.center}, width ${window.width}`;
  const preset = window.preset ? `, preset ${window.preset}` : '';
  return `${values} (${window.function}), from ${WINDOW_SOURCES[window.source] ?? window.source}${preset}`;
}

function showPreprocessing(record) {
  const { source, dicom, transform } = record;
  const rows = [
    [
      'Source',
      `${source.format.toUpperCase()}, ${source.width} x ${source.height}, ${source.bit_depth}-bit, ${source.channels} channel(s)` +
        `${source.has_alpha ? ' with alpha (dropped)' : ''}${source.pages > 1 ? `, ${source.pages} ${dicom ? 'frames' : 'pages'}` : ''}` +
        `${source.page ? `, page ${source.page} used` : ''}`,
    ],
  ];
  if (dicom) {
    rows.push([
      'DICOM',
      `modality ${dicom.modality ?? 'not given'}, ${dicom.photometric_interpretation}, frame ${dicom.frame} of ${dicom.frames}` +
        `, ${dicom.bits_stored} bits stored${dicom.inverted ? ', inverted (MONOCHROME1)' : ''}, transfer syntax ${dicom.transfer_syntax_uid}`,
    ]);
  }
  rows.push(
    ['Window', describeWindow(record.window)],
    [
      'Resize',
      transform.resize ? `bicubic, to ${transform.resize.width} x ${transform.resize.height}` : 'none (the shorter side already fits)',
    ],
    ['Crop', `centre ${transform.crop.width} x ${transform.crop.height} at (${transform.crop.left}, ${transform.crop.top})`],
    ['Model input', `${transform.size} x ${transform.size} RGB`],
  );
  $('preprocessing').replaceChildren(
    ...rows.flatMap(([term, text]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = text;
      return [dt, dd];
    }),
  );
  $('preprocessing-block').hidden = false;
}

// ---- wiring --------------------------------------------------------------------------------------------------

function wire() {
  $('classify-form').addEventListener('submit', classify);
  $('image').addEventListener('change', fileChosen);
  $('model').addEventListener('change', () => {
    clearErrors();
    modelChanged().then(
      () => updatePreview(),
      (err) => showApiError(err, false),
    );
  });
  $('prompt_set').addEventListener('change', promptSetChanged);
  $('api-key').addEventListener('change', () => {
    state.key = $('api-key').value.trim();
    void loadModels();
  });
  $('window').addEventListener('change', () => {
    if ($('window').value !== '') {
      $('window_center').value = '';
      $('window_width').value = '';
    }
    void updatePreview();
  });
  const windowChanged = () => {
    const center = $('window_center').value.trim();
    const width = $('window_width').value.trim();
    // Only a whole window (or none) is sent; the API's own message says what is wrong with it.
    if ((center === '') !== (width === '')) return;
    if (center !== '') $('window').value = '';
    void updatePreview();
  };
  const frameChanged = () => void updatePreview();
  for (const [id, changed] of [
    ['window_center', windowChanged],
    ['window_width', windowChanged],
    ['frame', frameChanged],
  ]) {
    $(id).addEventListener('change', changed);
    // Enter in a rendering field updates the preview; it does not submit the form (classify) as it otherwise would.
    $(id).addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      changed();
    });
  }

  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    if (e.dataTransfer?.files.length) {
      $('image').files = e.dataTransfer.files;
      fileChosen();
    }
  });
  // A file dropped outside the box must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

wire();
void loadModels();
