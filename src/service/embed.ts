/** Embeddings of texts, of images and of a whole series; and the view of an image the model would see. */
import type { ImagePreprocessing } from '../api-types.ts';
import { inField, tooLarge } from '../errors.ts';
import type { ImageOptions, ModelInput } from '../inputs/decode.ts';
import type { ServedModel } from '../models/types.ts';
import type { WorkContext } from './context.ts';
import { retrieveImages, type GivenImage } from './images.ts';
import { decodeImages, previewImage } from './model-inputs.ts';
import { embedSeries, type EmbeddedSeries, type SeriesInput, type SliceCount } from './series.ts';
import { checkTextLengths } from './text-limits.ts';
import type { ModelChooser, UseCaseServices } from './use-case.ts';

export interface Embedded {
  model: ServedModel;
  embeddings: Float32Array[];
}

/**
 * Every text within MAX_TEXTS_PER_REQUEST and MAX_CHARS_PER_TEXT, embedded in order, with the tokens they came to
 * (each text counted, repeats too, as the model's tokenizer cuts it).
 */
export async function embedTexts(
  input: { texts: string[]; model: string | undefined },
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<Embedded & { tokens: number }> {
  const { texts } = input;
  const { limits } = services;
  if (texts.length > limits.textsPerRequest) {
    throw inField(
      'texts',
      tooLarge(`${texts.length} texts sent, MAX_TEXTS_PER_REQUEST allows ${limits.textsPerRequest}`, 'too_many_texts'),
    );
  }
  checkTextLengths(texts, limits.charsPerText, 'text', 'texts');
  const model = chooseModel(input.model);
  return { model, ...(await model.embedTextsCounted(texts, context)) };
}

export interface ImagesInput {
  images: GivenImage[];
  /** Bytes the retrieved images may take together (what is left of MAX_BODY_BYTES after the request's own body). */
  retrievalBytes: number;
  rendering: ImageOptions;
  model: string | undefined;
}

export async function embedImages(
  input: ImagesInput,
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<Embedded & { preprocessing: ImagePreprocessing[] }> {
  const model = chooseModel(input.model);
  const images = await retrieveImages(input.images, services.sources, context, input.retrievalBytes);
  const decoded = await decodeImages(images, model, services.decoding, context, input.rendering);
  const embeddings = await model.embedImages(
    decoded.map((d) => d.pixels),
    context,
  );
  return { model, embeddings, preprocessing: decoded.map((d) => d.preprocessing) };
}

/** The S x S RGB image the model would see for the one image of `input` (runs no model). */
export async function previewModelInput(
  input: ImagesInput,
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<{ model: ServedModel } & Pick<ModelInput, 'view' | 'preprocessing'>> {
  const model = chooseModel(input.model);
  const [image] = await retrieveImages(input.images, services.sources, context, input.retrievalBytes);
  if (image === undefined) throw new Error('the request reader returned no image');
  return { model, ...(await previewImage(image, model, services.decoding, context, input.rendering)) };
}

export async function embedWholeSeries(
  input: { series: SeriesInput; slices: SliceCount | undefined; rendering: ImageOptions; model: string | undefined },
  chooseModel: ModelChooser,
  services: UseCaseServices,
  context: WorkContext,
): Promise<{ model: ServedModel; embedded: EmbeddedSeries }> {
  const model = chooseModel(input.model);
  return { model, embedded: await embedSeries(input.series, input.slices, model, input.rendering, services.series, context) };
}
