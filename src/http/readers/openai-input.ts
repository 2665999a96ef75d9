/**
 * What an OpenAI-style embeddings request (`POST /v1/embeddings`, schema OpenAIEmbeddingsRequest) asks to embed:
 * texts, or images given as base64 `data:` URLs, as the native routes take them. Nothing is fetched: a URL or a
 * DICOMweb reference is refused with a 400 that says what to send instead.
 */
import { badRequest, inField } from '../../errors.ts';
import { dataUrlMediaType, decodeBase64Image } from '../../inputs/base64.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import type { GivenImage } from '../../service/images.ts';
import { tooManyImages, type ImageLimit } from './image-limit.ts';

/** One content part of a `messages` item (vLLM's form). */
export type MessagePart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/** The request body, as the schema lets it through (token ids and references pass, to be refused here by name). */
export interface EmbeddingsBody {
  model: string;
  input?: string | (string | number | number[] | Record<string, unknown>)[];
  messages?: { role: string; content: string | MessagePart[] }[];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  modality?: 'text' | 'image';
}

/** What to embed, and the request property it came in (`param` of an error about it). */
export type EmbeddingsInput = { field: 'input' | 'messages' } & ({ texts: string[] } | { images: GivenImage[] });

const TOKEN_IDS =
  'is a list of token ids; this service tokenizes text itself: send the text (LangChain in Python sends token ids ' +
  'unless OpenAIEmbeddings(check_embedding_ctx_length=False))';
const NOT_FETCHED =
  'is a URL: this service fetches no image it was not configured to; send the image as a data:image/...;base64, ' +
  '(or data:application/dicom;base64,) URL';
const DICOMWEB = 'is a DICOMweb reference; /v1/embeddings takes images as data: URLs only (use POST /embed/image for DICOMweb)';

const isImageDataUrl = (text: string): boolean => {
  const type = text.startsWith('data:') ? dataUrlMediaType(text) : undefined;
  return type !== undefined && (type.startsWith('image/') || type === DICOM_MEDIA_TYPE);
};

/** An image given as a `data:` URL, decoded by the routes' own bounded base64 reader; `what` names it in messages. */
function imageFromUrl(url: string, what: string): GivenImage {
  if (/^https?:\/\//i.test(url)) throw badRequest(`${what} ${NOT_FETCHED}`);
  if (!isImageDataUrl(url)) throw badRequest(`${what} must be a data:image/...;base64, or data:application/dicom;base64, URL`);
  return { bytes: decodeBase64Image(url, what), declaredDicom: dataUrlMediaType(url) === DICOM_MEDIA_TYPE };
}

/** A text input: a string; token ids, references and data-URL images (without modality) are refused by name. */
function text(item: unknown, what: string): string {
  if (typeof item === 'number' || Array.isArray(item)) throw badRequest(`${what} ${TOKEN_IDS}`);
  if (typeof item !== 'string')
    throw badRequest(`${what} ${typeof item === 'object' && item !== null && 'dicomweb' in item ? DICOMWEB : 'must be a string'}`);
  if (isImageDataUrl(item)) throw badRequest(`${what} is an image data: URL; send "modality": "image" to embed it as an image`);
  return item;
}

function fromInput(input: NonNullable<EmbeddingsBody['input']>, modality: EmbeddingsBody['modality'], limit: ImageLimit): EmbeddingsInput {
  const items = typeof input === 'string' ? [input] : input;
  const what = (i: number): string => (typeof input === 'string' ? 'input' : `input[${i}]`);
  if (modality !== 'image') return { field: 'input', texts: items.map((item, i) => text(item, what(i))) };
  // Counted before any is decoded: a thousand base64 images are refused without decoding one.
  if (items.length > limit.max) throw tooManyImages(items.length, limit, 'input');
  const images = items.map((item, i) => {
    if (typeof item === 'string') return imageFromUrl(item, what(i));
    throw badRequest(
      `${what(i)} ${typeof item === 'object' && !Array.isArray(item) && 'dicomweb' in item ? DICOMWEB : 'must be a data: URL'}`,
    );
  });
  return { field: 'input', images };
}

/** vLLM's form: one user message whose content is one text or one image (a CLIP model embeds either, never both). */
function fromMessages(messages: NonNullable<EmbeddingsBody['messages']>): EmbeddingsInput {
  const [message] = messages;
  if (messages.length !== 1 || message === undefined || message.role !== 'user') {
    throw badRequest('messages must be one message with role "user" (its content: one text or one image)');
  }
  const parts: MessagePart[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
  const [part] = parts;
  if (part === undefined || parts.length !== 1) {
    throw badRequest('the message content must be one text or one image_url part; to embed several, send them as input');
  }
  if (part.type === 'text') return { field: 'messages', texts: [text(part.text, 'the text part')] };
  return { field: 'messages', images: [imageFromUrl(part.image_url.url, 'the image_url part')] };
}

/** What the request asks to embed; a 400 naming `input` or `messages` when it is not something this service embeds. */
export function embeddingsInput(body: EmbeddingsBody, limit: ImageLimit): EmbeddingsInput {
  const { input, messages, modality } = body;
  if ((input === undefined) === (messages === undefined)) throw badRequest('send either input or messages (one of them)');
  if (input !== undefined) {
    try {
      return fromInput(input, modality, limit);
    } catch (err) {
      throw inField('input', err);
    }
  }
  if (modality !== undefined) throw inField('modality', badRequest('modality goes with input; in messages each part says what it is'));
  try {
    return fromMessages(messages ?? []);
  } catch (err) {
    throw inField('messages', err);
  }
}
