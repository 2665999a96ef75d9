/** Zero-shot classification of one image or of a whole series, against inline labels or a named prompt set. */
import type { ImagePreprocessing } from '../api-types.ts';
import type { ImageOptions } from '../inputs/decode.ts';
import type { Prediction, ServedModel } from '../models/types.ts';
import { checkClassSource, resolveClasses, type Classes, type ClassifyFields } from './classes.ts';
import type { WorkContext } from './context.ts';
import { retrieveImages, studyUidOf, type GivenImage } from './images.ts';
import { decodeImages } from './model-inputs.ts';
import { checkReportable, evaluatedImage, type EvaluatedInstance } from './report.ts';
import { embedSeries, type EmbeddedSeries, type SeriesInput, type SliceCount } from './series.ts';
import type { ModelChooser, UseCaseServices } from './use-case.ts';
import { classify } from '../zeroshot/scoring.ts';
import {
  checkTrustRequest,
  temperatureOf,
  trustedClassification,
  type TrustedClassification,
  type TrustRequest,
  type TrustSetting,
} from '../zeroshot/trusted-answer.ts';

export interface ClassifyImageInput {
  image: GivenImage;
  /** Bytes a retrieved image may take (what is left of MAX_BODY_BYTES after the request's own body). */
  retrievalBytes: number;
  rendering: ImageOptions;
  fields: ClassifyFields;
  /** Read the evaluated instance for a DICOM SR (report.ts): a non-DICOM upload is then refused (406) before decoding. */
  report?: boolean;
}

interface Classified {
  model: ServedModel;
  classes: Pick<Classes, 'labels' | 'promptSet' | 'templates'>;
  /** Every class, most probable first (`fields.top_k` is the renderer's to apply); calibrated when a calibration applies. */
  predictions: Prediction[];
  /** Abstention, out-of-distribution score, calibration used and the prediction set (docs/trust.md). */
  trust: Omit<TrustedClassification, 'predictions'>;
  /** The evaluated instances, read for a report (`report: true`) only. */
  instances?: EvaluatedInstance[];
}

export interface ImageClassification extends Classified {
  preprocessing: ImagePreprocessing;
  /** The study the image's DICOMweb reference named, if any (FHIR's derivedFrom). */
  studyUid: string | undefined;
}

export async function classifyImage(
  input: ClassifyImageInput,
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<ImageClassification> {
  const { fields } = input;
  checkClassSource(fields);
  const model = chooseModel(fields.model);
  const classes = resolveClasses(model, fields, services.limits);
  const setting = trustSetting(model, services);
  checkTrustRequest(trustRequestOf(fields), setting, classes.promptSet?.name);
  if (input.report === true) checkReportable(input.image);
  const images = await retrieveImages([input.image], services.sources, context, input.retrievalBytes);
  // The image decodes first, so a bad image costs no text inference.
  const [decoded] = await decodeImages(images, model, services.decoding, context, input.rendering);
  if (decoded === undefined) throw new Error('the image decoder returned nothing');
  // Read once the image has decoded (its size and form are checked), before the model runs: a 406 costs no inference.
  const instances = input.report === true ? images.map((image) => evaluatedImage(image, input.rendering)) : undefined;
  const [imageEmbeddings, classEmbeddings] = await Promise.all([model.embedImages([decoded.pixels], context), classes.embed(context)]);
  const imageEmbedding = imageEmbeddings[0];
  if (imageEmbedding === undefined) throw new Error('the image encoder returned no embedding');
  return {
    model,
    classes,
    ...trusted(imageEmbedding, classEmbeddings, classes, setting, fields, (answer) => recordQuality(services, model, classes, answer)),
    preprocessing: decoded.preprocessing,
    studyUid: studyUidOf(images),
    ...(instances === undefined ? {} : { instances }),
  };
}

export interface ClassifySeriesInput {
  series: SeriesInput;
  slices: SliceCount | undefined;
  rendering: ImageOptions;
  fields: ClassifyFields;
  /** Read each evaluated instance for a DICOM SR (report.ts). */
  report?: boolean;
}

export interface SeriesClassification extends Classified {
  embedded: EmbeddedSeries;
  /** Each sampled slice's most probable class, in the order of `embedded.slices`. */
  slicePredictions: Prediction[];
}

export async function classifySeries(
  input: ClassifySeriesInput,
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<SeriesClassification> {
  const { fields } = input;
  checkClassSource(fields);
  const model = chooseModel(fields.model);
  const classes = resolveClasses(model, fields, services.limits);
  const setting = trustSetting(model, services);
  checkTrustRequest(trustRequestOf(fields), setting, classes.promptSet?.name);
  const embedded = await embedSeries(input.series, input.slices, model, input.rendering, services.series, context, input.report === true);
  const classEmbeddings = await classes.embed(context);
  // Each slice's top class at the series' temperature; the trust decision is the series' (its mean embedding).
  const scale = model.logitScale / temperatureOf(setting, classes.promptSet?.name);
  const top = (embedding: Float32Array): Prediction => classify(embedding, classEmbeddings, classes.labels, scale, 1)[0]!;
  return {
    model,
    classes,
    ...trusted(embedded.embedding, classEmbeddings, classes, setting, fields, (answer) => recordQuality(services, model, classes, answer)),
    embedded,
    slicePredictions: embedded.slices.map((slice) => top(slice.embedding)),
    ...(input.report === true ? { instances: embedded.slices.map((slice) => ({ source: slice.source! })) } : {}),
  };
}

function trustSetting(model: ServedModel, services: UseCaseServices): TrustSetting {
  return { logitScale: model.logitScale, calibration: model.calibration, policy: services.trustPolicy };
}

function trustRequestOf(fields: ClassifyFields): TrustRequest {
  return {
    ...(fields.coverage === undefined ? {} : { coverage: fields.coverage }),
    ...(fields.min_probability === undefined ? {} : { minProbability: fields.min_probability }),
  };
}

function trusted(
  embedding: Float32Array,
  classEmbeddings: Float32Array[],
  classes: Pick<Classes, 'labels' | 'promptSet'>,
  setting: TrustSetting,
  fields: ClassifyFields,
  record: (answer: TrustedClassification) => void,
): Pick<Classified, 'predictions' | 'trust'> {
  const answer = trustedClassification(
    embedding,
    classEmbeddings,
    classes.labels,
    classes.promptSet?.name,
    setting,
    trustRequestOf(fields),
  );
  record(answer);
  const { predictions, ...trust } = answer;
  return { predictions, trust };
}

/** Every answer's top probability, margin, out-of-distribution score and abstention, for the output-quality metrics. */
function recordQuality(
  services: UseCaseServices,
  model: ServedModel,
  classes: Pick<Classes, 'promptSet'>,
  answer: TrustedClassification,
): void {
  services.outputQuality.record(model, classes.promptSet?.name, {
    probabilities: answer.predictions.map((p) => p.probability),
    ood: answer.outOfDistribution ?? undefined,
    abstained: answer.abstained?.reason,
  });
}
