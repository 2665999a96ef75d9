/**
 * Generated from openapi.yaml by openapi-typescript (packages/cli/scripts/api-types.ts): do not edit;
 * run `npm run api-types -w packages/cli` instead. test/cli/api-types.test.ts checks it is up to date.
 */

export interface paths {
    "/embed/text": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * L2-normalized embeddings of texts, in request order.
         * @description Texts are cleaned (`unimed-clean-v1`), tokenized and truncated to the model's context length
         *     (256 tokens including [CLS] and [SEP]) as `models/README.md` describes.
         */
        post: operations["embedText"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/embed/image": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * L2-normalized embeddings of images, in request order, with one preprocessing record per image.
         * @description Three request forms give the same result:
         *     - the raw image as the body (`application/dicom`, `image/png`, `image/jpeg`, `image/tiff`, `image/webp`;
         *       the model and the rendering parameters are then query parameters);
         *     - `multipart/form-data` with one or more file parts named `image` (and optional `model`, `window`,
         *       `window_center`, `window_width`, `frame`, `page` fields);
         *     - JSON `{"images": [base64, ...], "model"?, "window"?, ...}` (plain base64 or a `data:...;base64,` URL).
         *
         *     The format is recognised from the file's content. Images are decoded without EXIF rotation, converted to
         *     RGB (grey expanded, alpha dropped), multi-page files use `page` (default 0); DICOM and wide samples are
         *     rendered to 8-bit RGB first (see the API description). Then the shorter side is resized to the model's
         *     size S (bicubic) and the centre S x S is cropped, as the reference transform does.
         */
        post: operations["embedImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/embeddings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * OpenAI-compatible embeddings of texts or images (the same vectors as /embed/text and /embed/image).
         * @description OpenAI's embeddings request and answer, for the clients written for it (`baseURL` ending in `/v1`). The
         *     vectors are those of `/embed/text` and `/embed/image` for the same inputs: the same use cases, text cache,
         *     batcher, limits and key scopes. Errors are in OpenAI's shape (`OpenAIError`), with the native routes'
         *     statuses and codes; only 408 and 431, answered before any route is known, keep the native shape.
         *
         *     - `model` is required and names a served model (`GET /v1/models`).
         *     - `input`: a string or a list of strings. Texts by default; with `"modality": "image"` every item is an
         *       image as a `data:image/...;base64,` or `data:application/dicom;base64,` URL (Infinity's convention).
         *       Lists of token ids (what LangChain's Python client sends unless `check_embedding_ctx_length=False`), plain
         *       `http(s)://` URLs (the service fetches nothing it was not configured to) and DICOMweb references (use
         *       `/embed/image`) are a 400 that says what to send; so is an image `data:` URL sent without `modality`.
         *     - `messages` (vLLM's form), instead of `input`: one `user` message whose content is one text, or one
         *       `text` or `image_url` part; the answer has one embedding.
         *     - `encoding_format`: `float` (default) or `base64` (little-endian float32, what the official clients ask for).
         *     - `dimensions`: the model's own dimension, or (only for a model whose model.json declares
         *       `embedding_truncation`) fewer, the first values L2-normalized again. CLIP embeddings were not trained to be
         *       truncated, so any other value is a 400 for them.
         *     - `user` is accepted and not logged.
         *     - `usage.prompt_tokens` (= `total_tokens`) counts every text's tokens by the model's tokenizer, [CLS] and
         *       [SEP] included, after truncation to the context length (repeated texts count again); images count 0.
         *
         *     The body may be up to `MAX_BODY_BYTES`; texts are held to `MAX_TEXTS_PER_REQUEST`, `MAX_CHARS_PER_TEXT` and
         *     `MAX_TOKENS_PER_REQUEST`, images to `MAX_IMAGES_PER_REQUEST` and the image limits, as on the native routes.
         *     DICOM is rendered with the native routes' defaults (no `window` or `frame`: use `/embed/image` for those).
         */
        post: operations["openaiEmbeddings"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The served models in OpenAI's list shape; a key with `models=` sees only those.
         * @description `created` is when the model was exported (model.json `provenance.exported_at`), 0 when unknown.
         */
        get: operations["openaiListModels"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/classify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Zero-shot classification of one image against labels or a named prompt set.
         * @description Give either `labels` (inline classes) or `prompt_set` (a named set, see `GET /prompt-sets`), not both.
         *     Each class embedding is the re-normalized mean of the normalized embeddings of its label put into every
         *     template (`{}` is replaced by the label text). Without `templates`, inline labels use the single
         *     template `{}` (the label text alone). `templates` cannot be combined with `prompt_set` (the set brings
         *     its own). Predictions are sorted by probability = softmax over the labels of `logit_scale` x cosine;
         *     the probabilities are relative to the labels given and always sum to 1 over all of them.
         *
         *     Forms: `multipart/form-data` with one file part `image`, `labels` as repeated fields or one field holding
         *     a JSON array, `templates` likewise, and optional `prompt_set`, `top_k`, `model` fields and the rendering
         *     fields `window`, `window_center`, `window_width`, `frame`, `page`; or JSON (below). The image may be
         *     DICOM or a wide PNG/TIFF (see the API description).
         *     labels x templates over `MAX_PROMPTS_PER_CLASSIFY` is answered 413. Each template holds `{}` exactly once
         *     (400 otherwise), and a label put into a template must stay within `MAX_CHARS_PER_TEXT` (413 `text_too_long`).
         */
        post: operations["classify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/classify/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Zero-shot classification of a whole series (a DICOMweb reference, or uploaded instances).
         * @description The series' instances are listed (QIDO-RS, for a reference) or taken from the upload, ordered by Instance
         *     Number (else by the z of Image Position (Patient), else as given), and `slices` of them (default 16, or
         *     `all` up to `MAX_SERIES_SLICES`) are sampled evenly, first and last included. Each is retrieved (WADO-RS, as
         *     stored) and rendered exactly as an uploaded image, and embedded through the batcher. The series embedding is
         *     the normalized mean of the slice embeddings, classified like an image's; each slice's top label is listed
         *     too, in slice order (with its SOP Instance UID only when `include_uids` is true). Classes as `/classify`
         *     (`labels` or `prompt_set`). Forms: JSON (below); `multipart/form-data` with the instances as `image` file
         *     parts and the other properties as form fields; or a `multipart/related; type="application/dicom"` body with
         *     them as query parameters. With `Accept: application/fhir+json` the answer is a FHIR R4 Observation; with
         *     `Accept: application/dicom`, a DICOM SR referencing the sampled slices (docs/pacs.md "DICOM SR answers").
         */
        post: operations["classifySeries"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/embed/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The embedding of a whole series (normalized mean of evenly sampled slices), with each slice's embedding.
         * @description Same series forms, ordering and sampling as `/classify/series`; answers the series embedding and each
         *     sampled slice's embedding in slice order.
         */
        post: operations["embedSeries"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The image the model will see, as a PNG (after windowing, resize and crop; before normalization).
         * @description Takes one image in the same forms as `/embed/image` (raw body with query parameters, multipart with one
         *     `image` part and fields, or JSON `{"image": base64, "model"?, "window"?, ...}`) and the same rendering
         *     parameters, and answers the S x S RGB PNG that the model's normalization would be applied to, so an
         *     integrator can check the windowing by eye. No model is run. The preprocessing record, which would be in
         *     the JSON body of the other routes, is in the `X-Preprocessing` header as JSON (characters outside
         *     printable ASCII escaped as `\uXXXX`).
         */
        post: operations["preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The models served, the default first. */
        get: operations["listModels"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/prompt-sets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prompt sets available for classification, per model. */
        get: operations["listPromptSets"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness. Always answers quickly while the process runs; never touches the inference workers. */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness. 200 once every model is loaded, verified, warmed and its prompt sets embedded; 503 while starting, shutting down, or while an encoder has no live inference worker (all dead, or replacements failing). */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics (text exposition format). */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API document (openapi.yaml, as read at start), as JSON. */
        get: operations["openapiJson"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.yaml": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API document, as written (YAML). */
        get: operations["openapiYaml"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An interactive reference of this document (Swagger UI; its assets are served under `/docs/static/`, nothing from a CDN). */
        get: operations["docs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A page to try a model in a browser (public, no model needed).
         * @description Pick or drop an image (PNG, JPEG, TIFF, WebP, DICOM), choose the model and a prompt set or type labels and
         *     templates, and see the image the model sees (from `/preview`, with DICOM window and frame controls), the
         *     predictions as a bar chart, the preprocessing record, the model's intended use and the latency; the API's
         *     error messages appear next to the field they name (`error.field`). Plain HTML, CSS and JavaScript served by
         *     the service itself (`/page/page.js`, `/page/page.css`), with a Content-Security-Policy that allows only
         *     this origin (and `blob:`/`data:` images). An API key typed into the page is kept in its memory only.
         */
        get: operations["page"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Open Inference Protocol (KServe v2): server metadata.
         * @description The Open Inference Protocol's REST API (docs/api.md "Open Inference Protocol"): each served model is two
         *     protocol models, `{model}-text` and `{model}-image`. Its errors are the protocol's `{"error": "<message>"}`
         *     (with the status the native routes give, refusals before the route runs included; only 408 and 431, answered
         *     before any route is known, keep the native shape).
         */
        get: operations["openInferenceServerMetadata"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/health/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open Inference Protocol: server live (as /healthz). */
        get: operations["openInferenceLive"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open Inference Protocol: server ready (as /readyz: 503 while starting, shutting down or while an encoder has no live worker). */
        get: operations["openInferenceReady"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/models/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Open Inference Protocol: model metadata of `{model}-text` or `{model}-image`.
         * @description A model the API key may not use (`models=`) is answered 404, as an unknown one, so its existence is not revealed.
         *     Model versions are not implemented: the metadata has no `versions`, and the `/versions/{version}` paths are 404.
         */
        get: operations["openInferenceModelMetadata"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/models/{name}/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open Inference Protocol: model ready (503 while starting, shutting down or while the model has an encoder with no live worker). */
        get: operations["openInferenceModelReady"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/models/{name}/infer": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open Inference Protocol: L2-normalized embeddings, as /embed/text and /embed/image compute them.
         * @description One input: `text` for `{model}-text`, a BYTES tensor of UTF-8 strings; `image` for `{model}-image`, a BYTES
         *     tensor of encoded files (PNG, JPEG, TIFF, WebP, DICOM), in JSON as base64 strings with the input's
         *     `parameters: {"content_type": "base64"}`. Shape `[N]` or `[N, 1]`. The output `embedding` is FP32 `[N, dim]`,
         *     row-major. The limits, cache and batching are those of /embed/text and /embed/image (`MAX_TEXTS_PER_REQUEST`,
         *     `MAX_TEXT_BODY_BYTES` for a text model, `MAX_IMAGES_PER_REQUEST`, `MAX_IMAGE_PIXELS`, ...). The request's
         *     `parameters` may carry the rendering parameters `window`, `window_center`, `window_width`, `frame`, `page`.
         *
         *     Binary tensor data extension (`binary_tensor_data`): the JSON is followed in the same body by the input's
         *     bytes (`Content-Type: application/octet-stream`, `Inference-Header-Content-Length`: the JSON's length; the
         *     input's `parameters.binary_data_size`: its bytes; each element a 4-byte little-endian length and its bytes:
         *     the raw file for an image, or base64 with `content_type: base64`). With `parameters.binary_data_output: true`
         *     (or the output's `parameters.binary_data: true`) the answer is the JSON followed by the FP32 data, little-endian.
         */
        post: operations["openInferenceInfer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The API key's jobs, oldest first */
        get: operations["listJobs"];
        put?: never;
        /**
         * Queue a durable classification job of a study's series
         * @description Classifies each series of a study (or the one series named) on a DICOMweb source in the background, as
         *     /classify/series would, kept in JOBS_DB or JOBS_DATABASE_URL before the 202 (docs/pacs.md "Jobs"). Registered
         *     only with one of them.
         *     An `Idempotency-Key` header sent again with the same body answers the same job (200); with another body, 409.
         */
        post: operations["createJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One job, with its result once done */
        get: operations["getJob"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        JobRequest: {
            /** @description A DICOMweb source of DICOMWEB_SOURCES. */
            source: string;
            study: components["schemas"]["DicomUid"];
            /** @description Only this series (every series of the study without it). */
            series?: components["schemas"]["DicomUid"];
            /** @description A DICOMweb source of DICOMWEB_SOURCES to store each series' DICOM SR in (STOW-RS); the key's sources= must name it. */
            destination?: string;
            labels?: components["schemas"]["Label"][];
            templates?: components["schemas"]["Template"][];
            prompt_set?: string;
            top_k?: number;
            coverage?: number;
            min_probability?: number;
            model?: components["schemas"]["ModelId"];
        };
        JobCreated: {
            id: string;
            /** @enum {string} */
            status: "queued" | "running" | "done" | "failed";
        };
        Job: {
            id: string;
            /** @enum {string} */
            status: "queued" | "running" | "done" | "failed";
            /** @description Tries so far. */
            attempts: number;
            /** @description Why the job failed (or why its last try failed, while it waits for the next). */
            error?: {
                code: string;
                message: string;
            };
            result?: {
                series: {
                    series: components["schemas"]["DicomUid"];
                    classification: components["schemas"]["ClassifySeriesResponse"];
                    /** @description With a destination, the SR stored for the series (under the job's study). */
                    report?: {
                        /** @description The SR's Series Instance UID. */
                        series: components["schemas"]["DicomUid"];
                        /** @description The SR's SOP Instance UID. */
                        instance: components["schemas"]["DicomUid"];
                        /**
                         * @description already_stored when the destination held the same SR (a job run again), which is success.
                         * @enum {string}
                         */
                        outcome: "stored" | "already_stored";
                    };
                }[];
            };
        };
        JobList: {
            jobs: {
                id: string;
                /** @enum {string} */
                status: "queued" | "running" | "done" | "failed";
                attempts: number;
            }[];
            next_cursor?: string;
        };
        /**
         * @description A DICOM Comprehensive SR (Part 10, explicit VR little endian), TID 1500-style: the classification as a
         *     qualitative evaluation (the top label), each label's probability, the model (id, sha256) as the algorithm and
         *     observer device, the evaluated instances referenced, and the Patient and General Study modules copied from the
         *     source so that it files under the same study. UIDs derived from what was evaluated and how (docs/pacs.md
         *     "DICOM SR answers").
         */
        DicomSr: string;
        ModelId: string;
        Error: {
            error: {
                /** @description Stable machine-readable code, e.g. bad_request, model_not_found, too_large, unsupported_media_type, undecodable, queue_full, not_ready, shutting_down, deadline_exceeded. */
                code: string;
                message: string;
                /**
                 * @description The request input at fault, when the service knows it, named as the API names it (JSON property, form
                 *     field or query parameter): e.g. `image` (the image itself, whichever form it came in: raw body, file
                 *     part, base64), `images`, `texts`, `labels`, `templates`, `prompt_set`, `model`, `window`,
                 *     `window_center`, `window_width`, `frame`, `page`, `top_k`, or an unknown field's own name. Absent when
                 *     the error is about the request as a whole (body size, content type, readiness, ...).
                 */
                field?: string;
            };
        };
        /** @description L2-normalized, `dim` floats. */
        Embedding: number[];
        EmbedTextRequest: {
            texts: string[];
            model?: components["schemas"]["ModelId"];
        };
        EmbedTextResponse: {
            model: string;
            dim: number;
            embeddings: components["schemas"]["Embedding"][];
        };
        /**
         * @description A PNG, JPEG, TIFF, WebP or DICOM file, base64 encoded (standard or URL-safe alphabet), optionally as a
         *     `data:...;base64,` URL; `data:application/dicom;base64,` marks a DICOM data set without the Part 10 preamble.
         *     Line breaks and spaces (as RFC 2045 encoders such as `base64` wrap at 76 columns) are skipped; any other
         *     character outside the alphabet is a 400.
         */
        Base64Image: string;
        /** @description The OpenAI error body of the `/v1/*` routes: the catalogue's `code`, `param` the input at fault (or null), `type` by kind of failure. */
        OpenAIError: {
            error: {
                message: string;
                /** @enum {string} */
                type: "invalid_request_error" | "authentication_error" | "permission_error" | "rate_limit_error" | "server_error";
                param: string | null;
                code: string;
            };
        };
        /** @description Exactly one of `input` and `messages` (see `POST /v1/embeddings`). */
        OpenAIEmbeddingsRequest: {
            model: components["schemas"]["ModelId"];
            /** @description A text, or a list of texts (of images as data URLs with `"modality": "image"`). Token ids and DICOMweb references are refused with a 400 that says what to send. */
            input?: string | (string | number | number[] | Record<string, never>)[];
            /** @description vLLM's form: one `user` message, its content one text or one part. */
            messages?: {
                role: string;
                content: string | components["schemas"]["OpenAIMessagePart"][];
            }[];
            /**
             * @description float (default) or base64: little-endian float32.
             * @enum {string}
             */
            encoding_format?: "float" | "base64";
            /** @description The model's own dimension; fewer only for a model that declares `embedding_truncation`. */
            dimensions?: number;
            /** @description Accepted, not logged. */
            user?: string;
            /**
             * @description text (default) or image: every `input` item is then an image data: URL.
             * @enum {string}
             */
            modality?: "text" | "image";
        };
        OpenAIMessagePart: {
            /** @constant */
            type: "text";
            text: string;
        } | {
            /** @constant */
            type: "image_url";
            image_url: {
                /** @description A data:image/...;base64, or data:application/dicom;base64, URL. */
                url: string;
            };
        };
        OpenAIEmbeddingsResponse: {
            /** @constant */
            object: "list";
            data: {
                /** @constant */
                object: "embedding";
                index: number;
                /** @description L2-normalized; a list of numbers, or with `encoding_format` base64 the little-endian float32 values in base64. */
                embedding: number[] | string;
            }[];
            model: string;
            usage: {
                prompt_tokens: number;
                total_tokens: number;
            };
        };
        OpenAIModelList: {
            /** @constant */
            object: "list";
            data: {
                id: string;
                /** @constant */
                object: "model";
                /** @description Unix seconds the model was exported; 0 when unknown. */
                created: number;
                owned_by: string;
            }[];
        };
        /**
         * @description Width/center in HU: ct-soft-tissue 400/40, ct-lung 1500/-600, ct-bone 2500/480, ct-brain 80/40, ct-liver 150/90.
         * @enum {string}
         */
        WindowPreset: "ct-soft-tissue" | "ct-lung" | "ct-bone" | "ct-brain" | "ct-liver";
        /** @description Window center in modality units (HU for CT); give with window_width. */
        WindowCenter: number;
        /** @description Window width in modality units; give with window_center. */
        WindowWidth: number;
        /** @description 0-based frame of a multi-frame DICOM object (required for one). */
        Frame: number;
        /** @description 0-based page of a multi-page TIFF (default 0). */
        Page: number;
        /** @description A base64 image, or `{"dicomweb": {...}}`, an instance the service retrieves from a configured DICOMweb source. */
        ImageOrReference: components["schemas"]["Base64Image"] | components["schemas"]["DicomwebImage"];
        /** @description A DICOM UID (digits and dots, at most 64 characters); checked before any request leaves. */
        DicomUid: string;
        DicomwebSeries: {
            /** @description A source named in DICOMWEB_SOURCES (400 for any other). */
            source: string;
            study: components["schemas"]["DicomUid"];
            series: components["schemas"]["DicomUid"];
        };
        DicomwebInstance: {
            /** @description A source named in DICOMWEB_SOURCES (400 for any other). */
            source: string;
            study: components["schemas"]["DicomUid"];
            series: components["schemas"]["DicomUid"];
            instance: components["schemas"]["DicomUid"];
            frame?: components["schemas"]["Frame"];
        };
        /**
         * @description An instance retrieved with WADO-RS (`multipart/related; type="application/dicom"; transfer-syntax=*`, so as
         *     stored) and rendered exactly as an upload of the same file. `frame` is 0-based (WADO-RS counts from 1) and
         *     takes the place of the request's `frame` for this image (giving both is a 400). Retrieved bytes count
         *     against `MAX_BODY_BYTES`.
         */
        DicomwebImage: {
            dicomweb: components["schemas"]["DicomwebInstance"];
        };
        /** @description Slices sampled evenly in slice order (first and last included), or `all` (up to `MAX_SERIES_SLICES`). Default 16. */
        SliceCount: number | "all";
        SeriesInfo: {
            /** @description Instances in the series (listed by the source, or uploaded). */
            instances: number;
            /** @description Slices embedded. */
            sampled: number;
        };
        EmbedSeriesRequest: {
            dicomweb: components["schemas"]["DicomwebSeries"];
            slices?: components["schemas"]["SliceCount"];
            /** @description Answer each slice's SOP Instance UID (default false). */
            include_uids?: boolean;
            model?: components["schemas"]["ModelId"];
            window?: components["schemas"]["WindowPreset"];
            window_center?: components["schemas"]["WindowCenter"];
            window_width?: components["schemas"]["WindowWidth"];
        };
        ClassifySeriesRequest: {
            dicomweb: components["schemas"]["DicomwebSeries"];
            slices?: components["schemas"]["SliceCount"];
            /** @description Answer each slice's SOP Instance UID (default false). */
            include_uids?: boolean;
            labels?: components["schemas"]["Label"][];
            templates?: components["schemas"]["Template"][];
            prompt_set?: string;
            top_k?: number;
            /** @description A prediction set that holds the true label with this probability (docs/trust.md): calibrated prompt sets only. */
            coverage?: number;
            /** @description Abstain (low_confidence) when the top probability is below this. */
            min_probability?: number;
            model?: components["schemas"]["ModelId"];
            window?: components["schemas"]["WindowPreset"];
            window_center?: components["schemas"]["WindowCenter"];
            window_width?: components["schemas"]["WindowWidth"];
        };
        SliceRecord: {
            /** @description Place in slice order (0-based, over the whole series). */
            index: number;
            /** @description Instance Number (null when the instance has none). */
            instance_number: number | null;
            /** @description Only with include_uids. */
            instance_uid?: components["schemas"]["DicomUid"];
        };
        EmbedSeriesResponse: {
            model: string;
            dim: number;
            series: components["schemas"]["SeriesInfo"];
            /** @description The normalized mean of the slice embeddings. */
            embedding: components["schemas"]["Embedding"];
            slices: (components["schemas"]["SliceRecord"] & {
                embedding: components["schemas"]["Embedding"];
            })[];
        };
        ClassifySeriesResponse: {
            model: string;
            prompt_set?: {
                name: string;
                version: string;
            };
            series: components["schemas"]["SeriesInfo"];
            /** @description The series embedding (normalized mean of the slice embeddings) classified like an image. */
            predictions: components["schemas"]["Prediction"][];
            /** @description Each sampled slice's top label, in slice order. */
            slices: (components["schemas"]["SliceRecord"] & {
                label: string;
                probability: number;
            })[];
            abstained: components["schemas"]["Abstention"];
            out_of_distribution: components["schemas"]["OutOfDistribution"];
            calibration: components["schemas"]["CalibrationUsed"];
            prediction_set?: components["schemas"]["PredictionSet"];
        };
        /**
         * @description A FHIR R4 Observation (answered for `Accept: application/fhir+json`): status `preliminary`; `code` the prompt
         *     set's name, or `zero-shot-classification`, in the system `urn:unimed-serve:prompt-set`; the top label as
         *     `valueCodeableConcept` (system `urn:unimed-serve:label`; a label that is not a FHIR code is sent as text
         *     only), or, when the service abstained (docs/trust.md), no value and a `dataAbsentReason` saying why; every label's probability as a `component` with `valueQuantity` (unit "1"); `device` the model, a
         *     contained Device with the model id and its sha256; `meta.security` the HL7 label AIAST (AI asserted);
         *     `derivedFrom` the ImagingStudy `urn:dicom:uid` / `urn:oid:UID` identifier only when the request named the
         *     study in a DICOMweb reference (never read from an uploaded file).
         */
        FhirObservation: {
            /** @constant */
            resourceType: "Observation";
            /** @constant */
            status: "preliminary";
            meta: Record<string, never>;
            contained?: Record<string, never>[];
            category?: Record<string, never>[];
            code: Record<string, never>;
            issued?: string;
            valueCodeableConcept?: Record<string, never>;
            /** @description Instead of a value when the service abstained (docs/trust.md): why, in `text`. */
            dataAbsentReason?: Record<string, never>;
            note?: Record<string, never>[];
            device: Record<string, never>;
            derivedFrom?: Record<string, never>[];
            component: {
                code: Record<string, never>;
                valueQuantity: {
                    value: number;
                    /** @constant */
                    unit: "1";
                };
            }[];
        };
        EmbedImageRequest: {
            images: components["schemas"]["ImageOrReference"][];
            model?: components["schemas"]["ModelId"];
            window?: components["schemas"]["WindowPreset"];
            window_center?: components["schemas"]["WindowCenter"];
            window_width?: components["schemas"]["WindowWidth"];
            frame?: components["schemas"]["Frame"];
            page?: components["schemas"]["Page"];
        };
        PreviewRequest: {
            image: components["schemas"]["ImageOrReference"];
            model?: components["schemas"]["ModelId"];
            window?: components["schemas"]["WindowPreset"];
            window_center?: components["schemas"]["WindowCenter"];
            window_width?: components["schemas"]["WindowWidth"];
            frame?: components["schemas"]["Frame"];
            page?: components["schemas"]["Page"];
        };
        Preprocessing: {
            source: {
                /** @enum {string} */
                format: "png" | "jpeg" | "tiff" | "webp" | "dicom";
                width: number;
                height: number;
                /** @description Bands in the file, alpha included (samples per pixel for DICOM). */
                channels: number;
                /** @description Bits per sample (Bits Stored for DICOM). */
                bit_depth: number;
                has_alpha: boolean;
                /** @description Pages in the file (frames for DICOM). */
                pages: number;
                /** @description The page used, present only when it is not page 0. */
                page?: number;
            };
            /** @description DICOM input only. Technical attributes; nothing that identifies a patient, study or institution. */
            dicom?: {
                modality: string | null;
                transfer_syntax_uid: string;
                photometric_interpretation: string;
                /** @description The frame rendered (0-based). */
                frame: number;
                /** @description Number of Frames. */
                frames: number;
                bits_stored: number;
                /** @description MONOCHROME1 (or an INVERSE presentation LUT) inverted so that high values are bright. */
                inverted: boolean;
            };
            /**
             * @description The window that mapped wide samples to 8 bits: present for DICOM (null for colour DICOM, shown as stored)
             *     and for 16/32-bit PNG/TIFF (always `auto`); absent for 8-bit images.
             */
            window?: {
                /** @description Modality units (HU for CT); null for a VOI LUT. */
                center: number | null;
                width: number | null;
                /** @enum {string} */
                function: "LINEAR" | "LINEAR_EXACT" | "SIGMOID" | "LUT";
                /**
                 * @description request: window_center/width or a preset; voi_lut: the file's first VOI LUT; file: its first Window Center/Width; auto: 0.5th-99.5th percentile of the non-padding pixels.
                 * @enum {string}
                 */
                source: "request" | "voi_lut" | "file" | "auto";
                preset?: components["schemas"]["WindowPreset"];
            } | null;
            transform: {
                /** @description Bicubic resize target, null when the shorter side already equals `size`. */
                resize: {
                    width: number;
                    height: number;
                } | null;
                crop: {
                    left: number;
                    top: number;
                    width: number;
                    height: number;
                };
                /** @description Model input size S (the tensor is 3 x S x S). */
                size: number;
            };
        };
        EmbedImageResponse: {
            model: string;
            dim: number;
            embeddings: components["schemas"]["Embedding"][];
            preprocessing: components["schemas"]["Preprocessing"][];
        };
        /** @description A class name, or `{name, text}` when the text put into the templates differs from the label returned. */
        Label: string | {
            name: string;
            text: string;
        };
        /**
         * @description Must contain `{}` exactly once (400 otherwise), replaced by the label text. The filled prompt counts
         *     against `MAX_CHARS_PER_TEXT` like any text (413 `text_too_long`).
         */
        Template: string;
        ClassifyRequest: {
            image: components["schemas"]["ImageOrReference"];
            labels?: components["schemas"]["Label"][];
            templates?: components["schemas"]["Template"][];
            prompt_set?: string;
            top_k?: number;
            /** @description A prediction set that holds the true label with this probability (docs/trust.md): calibrated prompt sets only. */
            coverage?: number;
            /** @description Abstain (low_confidence) when the top probability is below this. */
            min_probability?: number;
            model?: components["schemas"]["ModelId"];
            window?: components["schemas"]["WindowPreset"];
            window_center?: components["schemas"]["WindowCenter"];
            window_width?: components["schemas"]["WindowWidth"];
            frame?: components["schemas"]["Frame"];
            page?: components["schemas"]["Page"];
        };
        /**
         * @description Null when the service names a label; else why it declines to (docs/trust.md): `out_of_distribution` when the
         *     image's out-of-distribution score is above the calibration's threshold (the image is unlike the images the
         *     model knows), `low_confidence` when the top probability is below the request's `min_probability`. The
         *     `predictions` stay in the answer and are not to be acted on. Only with `TRUST_POLICY=abstain` and a calibration.
         */
        Abstention: {
            /** @enum {string} */
            reason: "out_of_distribution" | "low_confidence";
            score: number;
            threshold: number;
        } | null;
        /** @description The image's out-of-distribution score (squared Mahalanobis distance to the nearest calibration class mean) and the threshold above which the service abstains; null without a calibration or with `TRUST_POLICY=off`. */
        OutOfDistribution: {
            score: number;
            threshold: number;
        } | null;
        /** @description The calibration that produced the probabilities and the threshold (its file's sha256, the temperature applied); null without one. */
        CalibrationUsed: {
            id: string;
            temperature: number;
        } | null;
        /**
         * @description Present when the request set `coverage`: the labels whose (calibrated) probability is at least 1 - q, q the
         *     split-conformal quantile of the prompt set's calibration scores; it holds the true label with probability at
         *     least `coverage` over images like the calibration images (docs/trust.md). May be empty (no label is
         *     plausible enough at that coverage). Null when the answer abstained.
         */
        PredictionSet: {
            coverage: number;
            labels: string[];
        } | null;
        Prediction: {
            label: string;
            /** @description softmax over the labels of logit_scale x cosine. */
            probability: number;
            /** @description Cosine similarity of the image and class embeddings. */
            similarity: number;
        };
        ClassifyResponse: {
            model: string;
            prompt_set?: {
                name: string;
                version: string;
            };
            predictions: components["schemas"]["Prediction"][];
            preprocessing: components["schemas"]["Preprocessing"];
            abstained: components["schemas"]["Abstention"];
            out_of_distribution: components["schemas"]["OutOfDistribution"];
            calibration: components["schemas"]["CalibrationUsed"];
            prediction_set?: components["schemas"]["PredictionSet"];
        };
        ModelInfo: {
            id: string;
            sha256: string;
            embed_dim: number;
            image_size: number;
            context_length: number;
            logit_scale: number;
            providers: {
                image: string;
                text: string;
            };
            /** @description model.json's `intended_use` paragraph. */
            intended_use: string;
            /** @description model.json's `diagnostic_use`; false when the file does not say (the model is then not for diagnostic use). */
            diagnostic_use: boolean;
            default: boolean;
            /** @description The model's calibration (docs/trust.md), or null without one. */
            calibration: {
                /** @description sha256 of calibration.json. */
                id: string;
                /** @description The prompt sets it calibrates (a `coverage` is possible with these only). */
                prompt_sets: string[];
                ood_threshold: number;
            } | null;
        };
        ModelsResponse: {
            default: string;
            models: components["schemas"]["ModelInfo"][];
        };
        PromptSetInfo: {
            name: string;
            version: string;
            model: string;
            labels: string[];
            templates: string[];
            description?: string;
            /** @enum {string} */
            source: "model" | "service";
        };
        PromptSetsResponse: {
            prompt_sets: components["schemas"]["PromptSetInfo"][];
        };
        HealthResponse: {
            /** @enum {string} */
            status: "ok";
        };
        ReadyResponse: {
            /** @enum {string} */
            status: "ready";
            models: string[];
        };
        OpenInferenceError: {
            error: string;
        };
        InferenceServerMetadata: {
            name: string;
            version: string;
            extensions: string[];
        };
        InferenceLiveResponse: {
            live: boolean;
        };
        InferenceReadyResponse: {
            ready: boolean;
        };
        InferenceModelReady: {
            name: string;
            ready: boolean;
        };
        InferenceTensorMetadata: {
            name: string;
            datatype: components["schemas"]["InferenceDatatype"];
            /** @description -1 for a dimension of variable size. */
            shape: number[];
        };
        InferenceModelMetadata: {
            name: string;
            versions?: string[];
            platform: string;
            inputs: components["schemas"]["InferenceTensorMetadata"][];
            outputs: components["schemas"]["InferenceTensorMetadata"][];
        };
        /** @enum {string} */
        InferenceDatatype: "BOOL" | "UINT8" | "UINT16" | "UINT32" | "UINT64" | "INT8" | "INT16" | "INT32" | "INT64" | "FP16" | "FP32" | "FP64" | "BYTES";
        /**
         * @description Parameters as key/value pairs. Read here: `binary_data_output` (request), `binary_data` (output),
         *     `binary_data_size` and `content_type` (`base64` for images in JSON; `str` or none for texts) (input), and the
         *     rendering parameters `window`, `window_center`, `window_width`, `frame`, `page` (request, for images).
         */
        InferenceParameters: {
            [key: string]: unknown;
        };
        InferenceRequestInput: {
            name: string;
            shape: number[];
            datatype: components["schemas"]["InferenceDatatype"];
            parameters?: components["schemas"]["InferenceParameters"];
            /** @description The elements in row-major order, flat or nested as the shape (absent with `parameters.binary_data_size`). */
            data?: unknown[];
        };
        InferenceRequestOutput: {
            name: string;
            parameters?: components["schemas"]["InferenceParameters"];
        };
        InferenceRequest: {
            /** @description Echoed in the response. */
            id?: string;
            parameters?: components["schemas"]["InferenceParameters"];
            inputs: components["schemas"]["InferenceRequestInput"][];
            outputs?: components["schemas"]["InferenceRequestOutput"][];
        };
        InferenceResponseOutput: {
            name: string;
            shape: number[];
            datatype: components["schemas"]["InferenceDatatype"];
            parameters?: components["schemas"]["InferenceParameters"];
            /** @description Row-major: row i is the embedding of element i. */
            data?: number[];
        };
        InferenceResponse: {
            model_name: string;
            model_version?: string;
            id?: string;
            parameters?: components["schemas"]["InferenceParameters"];
            outputs: components["schemas"]["InferenceResponseOutput"][];
        };
    };
    responses: {
        /** @description No API key, or not a valid one (`Authorization: Bearer <key>`). */
        Unauthorized: {
            headers: {
                /** @description `Bearer realm="unimed-serve"`, with `error="invalid_token"` for a wrong key. */
                "WWW-Authenticate"?: string;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "unauthorized",
                 *         "message": "an API key is required: send Authorization: Bearer <key>"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
        };
        /**
         * @description The API key may not call this route (`routes=`) or use this model (`models=`) (code `forbidden`), or the
         *     request comes from a browser page whose `Origin` is not in `CORS_ORIGINS` (code `origin_not_allowed`,
         *     answered before the body is read).
         */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "forbidden",
                 *         "message": "this API key may not use model \"unimed-b16\" (it may use: unimed-demo)"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "forbidden" | "origin_not_allowed";
                    };
                };
            };
        };
        /** @description The request comes from a browser page whose `Origin` is not in `CORS_ORIGINS` (nor the service itself). */
        OriginNotAllowed: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "origin_not_allowed",
                 *         "message": "requests from this origin are not allowed (CORS_ORIGINS)"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "origin_not_allowed";
                    };
                };
            };
        };
        /** @description The `Host` header names a host the service does not answer for (`ALLOWED_HOSTS`; without API keys only `localhost` and IP addresses by default): the defence against DNS rebinding, answered before the body is read. `/healthz`, `/readyz` and `/metrics` also answer a `Host` that is an IP address (kubelet probes, Prometheus). */
        MisdirectedRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "misdirected_request",
                 *         "message": "this service does not answer for the host this request names (ALLOWED_HOSTS)"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "misdirected_request";
                    };
                };
            };
        };
        /** @description The API key is over its rate (`rate=`, counted per pod), or the client address sent more wrong keys than `AUTH_FAILURE_LIMIT` within the window; retry after `Retry-After` seconds. */
        TooManyRequests: {
            headers: {
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "rate_limited",
                 *         "message": "API key \"ward-3\" is over its rate of 60 requests per 1 minute"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
        };
        /** @description `BadRequest` in OpenAI's shape (`type` invalid_request_error; `param` the input at fault). */
        OpenAIBadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "input[0] is a list of token ids; this service tokenizes text itself: send the text (LangChain in Python sends token ids unless OpenAIEmbeddings(check_embedding_ctx_length=False))",
                 *         "type": "invalid_request_error",
                 *         "param": "input",
                 *         "code": "bad_request"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "bad_request";
                    };
                };
            };
        };
        /** @description `Unauthorized` in OpenAI's shape (`type` authentication_error), with `WWW-Authenticate`. */
        OpenAIUnauthorized: {
            headers: {
                /** @description `Bearer realm="unimed-serve"`, with `error="invalid_token"` for a wrong key. */
                "WWW-Authenticate"?: string;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "an API key is required: send Authorization: Bearer <key>",
                 *         "type": "authentication_error",
                 *         "param": null,
                 *         "code": "unauthorized"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
        };
        /** @description `Forbidden` in OpenAI's shape (`type` permission_error). */
        OpenAIForbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "this API key may not use model \"unimed-b16\" (it may use: unimed-demo)",
                 *         "type": "permission_error",
                 *         "param": null,
                 *         "code": "forbidden"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "forbidden" | "origin_not_allowed";
                    };
                };
            };
        };
        /** @description The `Host` header names a host the service does not answer for (`ALLOWED_HOSTS`), in OpenAI's shape (`type` invalid_request_error). */
        OpenAIMisdirectedRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "this service does not answer for the host this request names (ALLOWED_HOSTS)",
                 *         "type": "invalid_request_error",
                 *         "param": null,
                 *         "code": "misdirected_request"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "misdirected_request";
                    };
                };
            };
        };
        /** @description Unknown model (or a `/v1/` path that matches no route), in OpenAI's shape (`type` invalid_request_error). */
        OpenAINotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "unknown model \"text-embedding-3-small\"; GET /models lists the served ones",
                 *         "type": "invalid_request_error",
                 *         "param": "model",
                 *         "code": "model_not_found"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "route_not_found" | "model_not_found";
                    };
                };
            };
        };
        /** @description `TooLarge` in OpenAI's shape (`type` invalid_request_error). */
        OpenAITooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "5 texts sent, MAX_TEXTS_PER_REQUEST allows 4",
                 *         "type": "invalid_request_error",
                 *         "param": "input",
                 *         "code": "too_many_texts"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "too_large" | "too_many_images" | "too_many_texts" | "too_many_tokens" | "text_too_long" | "image_too_large";
                    };
                };
            };
        };
        /** @description `UnsupportedMediaType` in OpenAI's shape: a body that is not JSON, or an image format or transfer syntax the service does not decode. */
        OpenAIUnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "/v1/embeddings takes application/json",
                 *         "type": "invalid_request_error",
                 *         "param": null,
                 *         "code": "unsupported_media_type"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
        };
        /** @description `Undecodable` in OpenAI's shape: an image that cannot be decoded. */
        OpenAIUndecodable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "the content is not a decodable png, jpeg, tiff, webp image",
                 *         "type": "invalid_request_error",
                 *         "param": "input",
                 *         "code": "undecodable"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "undecodable" | "dimension_mismatch";
                    };
                };
            };
        };
        /** @description `TooManyRequests` in OpenAI's shape (`type` rate_limit_error), with `Retry-After`. */
        OpenAITooManyRequests: {
            headers: {
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "API key \"ward-3\" is over its rate of 60 requests per 1 minute",
                 *         "type": "rate_limit_error",
                 *         "param": null,
                 *         "code": "rate_limited"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
        };
        /** @description `InternalError` in OpenAI's shape (`type` server_error). */
        OpenAIInternalError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "internal error",
                 *         "type": "server_error",
                 *         "param": null,
                 *         "code": "internal_error"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "internal_error";
                    };
                };
            };
        };
        /** @description `Unavailable` in OpenAI's shape (`type` server_error), with `Retry-After`. */
        OpenAIUnavailable: {
            headers: {
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "the text queue of model unimed-demo is full (256 items waiting, 1 more asked); retry later",
                 *         "type": "server_error",
                 *         "param": null,
                 *         "code": "queue_full"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "not_ready" | "shutting_down" | "overloaded" | "queue_full" | "worker_failed" | "inference_failed" | "memory_busy";
                    };
                };
            };
        };
        /** @description The request deadline (`REQUEST_TIMEOUT_MS`) passed, in OpenAI's shape (`type` server_error). */
        OpenAIDeadlineExceeded: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "message": "the request deadline passed before inference finished",
                 *         "type": "server_error",
                 *         "param": null,
                 *         "code": "deadline_exceeded"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIError"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "deadline_exceeded";
                    };
                };
            };
        };
        /** @description A parameter is missing, malformed or out of range (also invalid JSON, invalid base64, unknown fields). */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "bad_request",
                 *         "message": "template 0 must contain \"{}\" exactly once (where the label goes)",
                 *         "field": "templates"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "bad_request";
                    };
                };
            };
        };
        /** @description Unknown model, prompt set or route. */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "model_not_found",
                 *         "message": "unknown model \"unimed-b16\"; GET /models lists the served ones",
                 *         "field": "model"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "route_not_found" | "model_not_found" | "prompt_set_not_found" | "dicom_not_found" | "job_not_found";
                    };
                };
            };
        };
        /** @description An `Idempotency-Key` sent again with another request body (code `conflict`). */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "conflict",
                 *         "message": "this Idempotency-Key was used for another request body"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "conflict";
                    };
                };
            };
        };
        /**
         * @description `Accept: application/dicom` asks for a DICOM SR of an input that cannot have one (code `not_acceptable`): an
         *     image that is not DICOM (refused before it is decoded), an instance without a SOP Class, SOP Instance, Study
         *     or Series Instance UID, or instances of several studies (an SR files under one study).
         */
        NotAcceptable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "not_acceptable",
                 *         "message": "a DICOM SR (Accept: application/dicom) can be made only of a DICOM input: send a DICOM instance, or ask for JSON"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "not_acceptable";
                    };
                };
            };
        };
        /**
         * @description The request (headers within `HTTP_HEADERS_TIMEOUT_MS`, all of it within `HTTP_REQUEST_TIMEOUT_MS`) did not
         *     arrive in time (code `request_timeout`); the connection is closed. Sent before any route is known, it
         *     carries a generated `X-Request-Id` and no `X-Model-Sha256`.
         */
        RequestTimeout: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "request_timeout",
                 *         "message": "the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS for the headers, HTTP_REQUEST_TIMEOUT_MS for all of it)"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "request_timeout";
                    };
                };
            };
        };
        /**
         * @description Over a configured limit (body bytes, image pixels, decode bytes or decoded bytes per byte sent
         *     (`MAX_IMAGE_BYTES`, `MAX_DECOMPRESSION_RATIO`: `image_too_large`), texts, characters, images, labels x templates, tokens of
         *     the texts or prompts: `too_many_tokens`, `MAX_TOKENS_PER_REQUEST`). The item and length limits are written
         *     into the request schemas of the served document (`maxItems`, `maxLength`) from the running configuration. A
         *     `Content-Length` over `MAX_BODY_BYTES` (`MAX_TEXT_BODY_BYTES` for `/embed/text`) is refused before the body is read, and with `Expect: 100-continue`
         *     instead of `100 Continue`. An answer sent before the whole body arrived carries `Connection: close`; the
         *     server reads on and discards the rest of the body for a while (`HTTP_LINGER_MS`, `HTTP_LINGER_BYTES`) so that
         *     a client that writes its whole body before reading still gets this answer.
         */
        TooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "image_too_large",
                 *         "message": "the image has more pixels than MAX_IMAGE_PIXELS allows",
                 *         "field": "image"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "too_large" | "too_many_images" | "too_many_texts" | "too_many_prompts" | "too_many_tokens" | "text_too_long" | "image_too_large";
                    };
                };
            };
        };
        /** @description A request content type or image format the service does not accept, or a DICOM transfer syntax it does not decode (video). */
        UnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "unsupported_media_type",
                 *         "message": "GIF images are not supported; send png, jpeg, tiff, webp",
                 *         "field": "image"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
        };
        /**
         * @description A supported media type whose content cannot be decoded: a damaged or truncated image, not an image, or a
         *     DICOM object without pixel data (structured report, RT plan, waveform), malformed or truncated, or with
         *     pixels the pipeline cannot render (1-bit, floating point); a decode past `DECODER_TIMEOUT_MS`. A compressed
         *     DICOM frame whose own header (JPEG/JPEG-LS start of frame, JPEG 2000 SIZ) contradicts Rows/Columns is
         *     `dimension_mismatch`, refused before the codec runs.
         */
        Undecodable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "undecodable",
                 *         "message": "the content is not a decodable png, jpeg, tiff, webp image",
                 *         "field": "image"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "undecodable" | "dimension_mismatch";
                    };
                };
            };
        };
        /** @description Not ready, shutting down, overloaded (`overloaded`, `MAX_INFLIGHT_REQUESTS` requests in progress, answered before the body is read; or `queue_full`), decoding memory busy past `MEMORY_WAIT_MS` (`memory_busy`), a worker failed, or the job database cannot be reached (`jobs_unavailable`, /jobs routes); retry after `Retry-After` seconds. */
        Unavailable: {
            headers: {
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "queue_full",
                 *         "message": "the image queue of model unimed-demo is full (256 items waiting, 1 more asked); retry later"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "not_ready" | "shutting_down" | "overloaded" | "queue_full" | "worker_failed" | "inference_failed" | "memory_busy" | "jobs_unavailable";
                    };
                };
            };
        };
        /**
         * @description A DICOMweb source the request named failed: unreachable, refused the service's credentials, answered an
         *     error or redirect (redirects are not followed) or something that is not DICOMweb (`upstream_unavailable`).
         *     The message names the source, never its URL or credentials. `store_refused` (a source refused to store a
         *     result, STOW-RS) is no route's answer: it is the code of a job's `error`.
         */
        BadGateway: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "upstream_unavailable",
                 *         "message": "DICOMweb source \"pacs\" is unreachable (ECONNREFUSED)"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "upstream_unavailable" | "store_refused";
                    };
                };
            };
        };
        /**
         * @description The request's deadline (`REQUEST_TIMEOUT_MS`) passed before decoding or inference finished (`deadline_exceeded`), or a
         *     DICOMweb source did not answer within its `timeout_ms` (`upstream_timeout`).
         */
        DeadlineExceeded: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "deadline_exceeded",
                 *         "message": "the request deadline passed before inference finished"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "deadline_exceeded" | "upstream_timeout";
                    };
                };
            };
        };
        /**
         * @description The request's headers are larger than Node's limit (16 KiB). Answered before any route is known, for every
         *     path, with a generated `X-Request-Id` and no `X-Model-Sha256`; the connection closes.
         */
        HeadersTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "headers_too_large",
                 *         "message": "the request headers are too large"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
        /** @description A fault of the service itself, never an answer to bad input; the message says nothing of the internals (the log has the error). */
        InternalError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": {
                 *         "code": "internal_error",
                 *         "message": "internal error"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {string} */
                        code?: "internal_error";
                    };
                };
            };
        };
        /**
         * @description An error of an Open Inference Protocol route, in the protocol's shape: the message alone. The status is the one
         *     the native routes give for the same fault (400 bad request, 401 no or wrong API key with `WWW-Authenticate`,
         *     403 forbidden or foreign origin, 404 unknown model or one the key may not use, 413 over a limit, 421 a `Host`
         *     the service does not answer for (`ALLOWED_HOSTS`), 415 content
         *     type, 422 undecodable image, 429 rate with `Retry-After`, 503 not ready, shutting down or overloaded with
         *     `Retry-After`, 504 deadline).
         */
        OpenInferenceError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "error": "input \"text\" of model unimed-demo-text has datatype BYTES, not FP32"
                 *     }
                 */
                "application/json": components["schemas"]["OpenInferenceError"];
            };
        };
    };
    parameters: {
        /** @description Model id (see `GET /models`); the default model when absent. */
        ModelQuery: components["schemas"]["ModelId"];
        /** @description A named window for greyscale DICOM (width/center in Hounsfield units); not combined with window_center/window_width. */
        WindowQuery: components["schemas"]["WindowPreset"];
        /** @description Window center in modality units (HU for CT); with window_width. */
        WindowCenterQuery: components["schemas"]["WindowCenter"];
        /** @description Window width in modality units, at least 1; with window_center. */
        WindowWidthQuery: components["schemas"]["WindowWidth"];
        /** @description 0-based frame of a multi-frame DICOM object; required for one (400 without it). */
        FrameQuery: components["schemas"]["Frame"];
        /** @description 0-based page of a multi-page TIFF (default 0). */
        PageQuery: components["schemas"]["Page"];
        /** @description `{model}-text` or `{model}-image`, for a model of `GET /models`. */
        OpenInferenceModelName: string;
    };
    requestBodies: never;
    headers: {
        /** @description W3C trace context (version 00) of the request's span: the caller's trace id when the request carried a valid `traceparent`, a new trace otherwise; the same header goes on requests to DICOMweb sources. */
        Traceparent: string;
        /** @description The caller's X-Request-Id when sane, else a generated UUID. */
        RequestId: string;
        /** @description The service's own id of the request (a UUID), the one its logs carry; they hold the caller's X-Request-Id only as a keyed hash. */
        ServerRequestId: string;
        /** @description sha256 of the model that answered (models/README.md defines it). */
        ModelSha256: string;
        /** @description The service version (package.json). */
        ServiceVersion: string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    embedText: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "texts": [
                 *         "chest x-ray",
                 *         "a CT scan of the abdomen"
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["EmbedTextRequest"];
            };
        };
        responses: {
            /** @description One embedding per text. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "model": "unimed-demo",
                     *       "dim": 64,
                     *       "embeddings": [
                     *         [
                     *           0.0465,
                     *           -0.0709,
                     *           -0.1106,
                     *           0.0035
                     *         ]
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["EmbedTextResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    embedImage: {
        parameters: {
            query?: {
                /** @description Model id (see `GET /models`); the default model when absent. */
                model?: components["parameters"]["ModelQuery"];
                /** @description A named window for greyscale DICOM (width/center in Hounsfield units); not combined with window_center/window_width. */
                window?: components["parameters"]["WindowQuery"];
                /** @description Window center in modality units (HU for CT); with window_width. */
                window_center?: components["parameters"]["WindowCenterQuery"];
                /** @description Window width in modality units, at least 1; with window_center. */
                window_width?: components["parameters"]["WindowWidthQuery"];
                /** @description 0-based frame of a multi-frame DICOM object; required for one (400 without it). */
                frame?: components["parameters"]["FrameQuery"];
                /** @description 0-based page of a multi-page TIFF (default 0). */
                page?: components["parameters"]["PageQuery"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/dicom": string;
                "image/png": string;
                "image/jpeg": string;
                "image/tiff": string;
                "image/webp": string;
                "multipart/related": string;
                "multipart/form-data": {
                    /** @description One or more file parts, each named `image` (a part typed `application/dicom` is read as DICOM). */
                    image?: string[];
                    /** @description Instead of (or besides) file parts: fields each holding a JSON {"source", "study", "series", "instance", "frame"?} (schema DicomwebInstance). */
                    dicomweb?: string[];
                    model?: string;
                    window?: components["schemas"]["WindowPreset"];
                    window_center?: number;
                    window_width?: number;
                    frame?: number;
                    page?: number;
                } | unknown | unknown;
                "application/json": components["schemas"]["EmbedImageRequest"];
            };
        };
        responses: {
            /** @description One embedding and one preprocessing record per image. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "model": "unimed-demo",
                     *       "dim": 64,
                     *       "embeddings": [
                     *         [
                     *           0.2346,
                     *           -0.2149,
                     *           -0.0738,
                     *           0.1589
                     *         ]
                     *       ],
                     *       "preprocessing": [
                     *         {
                     *           "source": {
                     *             "format": "png",
                     *             "width": 193,
                     *             "height": 154,
                     *             "channels": 3,
                     *             "bit_depth": 8,
                     *             "has_alpha": false,
                     *             "pages": 1
                     *           },
                     *           "transform": {
                     *             "resize": {
                     *               "width": 140,
                     *               "height": 112
                     *             },
                     *             "crop": {
                     *               "left": 14,
                     *               "top": 0,
                     *               "width": 112,
                     *               "height": 112
                     *             },
                     *             "size": 112
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["EmbedImageResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            422: components["responses"]["Undecodable"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    openaiEmbeddings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "model": "unimed-demo",
                 *       "input": [
                 *         "chest x-ray",
                 *         "a CT scan of the abdomen"
                 *       ],
                 *       "encoding_format": "float"
                 *     }
                 */
                "application/json": components["schemas"]["OpenAIEmbeddingsRequest"];
            };
        };
        responses: {
            /** @description One embedding per input, in order (`index`). */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "object": "list",
                     *       "data": [
                     *         {
                     *           "object": "embedding",
                     *           "index": 0,
                     *           "embedding": [
                     *             0.0465,
                     *             -0.0709,
                     *             -0.1106,
                     *             0.0035
                     *           ]
                     *         }
                     *       ],
                     *       "model": "unimed-demo",
                     *       "usage": {
                     *         "prompt_tokens": 6,
                     *         "total_tokens": 6
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["OpenAIEmbeddingsResponse"];
                };
            };
            400: components["responses"]["OpenAIBadRequest"];
            401: components["responses"]["OpenAIUnauthorized"];
            403: components["responses"]["OpenAIForbidden"];
            404: components["responses"]["OpenAINotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["OpenAITooLarge"];
            415: components["responses"]["OpenAIUnsupportedMediaType"];
            421: components["responses"]["OpenAIMisdirectedRequest"];
            422: components["responses"]["OpenAIUndecodable"];
            429: components["responses"]["OpenAITooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenAIInternalError"];
            503: components["responses"]["OpenAIUnavailable"];
            504: components["responses"]["OpenAIDeadlineExceeded"];
        };
    };
    openaiListModels: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Served models. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "object": "list",
                     *       "data": [
                     *         {
                     *           "id": "unimed-demo",
                     *           "object": "model",
                     *           "created": 1795873662,
                     *           "owned_by": "unimed-serve"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["OpenAIModelList"];
                };
            };
            401: components["responses"]["OpenAIUnauthorized"];
            403: components["responses"]["OpenAIForbidden"];
            421: components["responses"]["OpenAIMisdirectedRequest"];
            429: components["responses"]["OpenAITooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenAIInternalError"];
            503: components["responses"]["OpenAIUnavailable"];
        };
    };
    classify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    image?: string;
                    /** @description Instead of the image part: JSON {"source", "study", "series", "instance", "frame"?}. */
                    dicomweb?: string;
                    /** @description Repeated fields, or one field holding a JSON array (of strings or {name, text} objects). */
                    labels?: string[];
                    /** @description Repeated fields, or one field holding a JSON array of strings. */
                    templates?: string[];
                    prompt_set?: string;
                    top_k?: number;
                    /** @description A prediction set that holds the true label with this probability (docs/trust.md): calibrated prompt sets only. */
                    coverage?: number;
                    /** @description Abstain (low_confidence) when the top probability is below this. */
                    min_probability?: number;
                    model?: string;
                    window?: components["schemas"]["WindowPreset"];
                    window_center?: number;
                    window_width?: number;
                    frame?: number;
                    page?: number;
                } | unknown | unknown;
                /**
                 * @example {
                 *       "image": "<base64 PNG>",
                 *       "labels": [
                 *         "chest x-ray",
                 *         "brain MRI",
                 *         "fundus photograph"
                 *       ],
                 *       "templates": [
                 *         "a photo of a {}."
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["ClassifyRequest"];
            };
        };
        responses: {
            /** @description Predictions, best first; a FHIR R4 Observation with `Accept: application/fhir+json`; a DICOM SR with `Accept: application/dicom` (DICOM inputs only). */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClassifyResponse"];
                    /** @example <a DICOM Part 10 file: a Comprehensive SR of this classification (docs/pacs.md "DICOM SR answers")> */
                    "application/dicom": components["schemas"]["DicomSr"];
                    /**
                     * @example {
                     *       "resourceType": "Observation",
                     *       "meta": {
                     *         "security": [
                     *           {
                     *             "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                     *             "code": "AIAST",
                     *             "display": "Artificial Intelligence asserted"
                     *           }
                     *         ]
                     *       },
                     *       "contained": [
                     *         {
                     *           "resourceType": "Device",
                     *           "id": "model",
                     *           "deviceName": [
                     *             {
                     *               "name": "unimed-demo",
                     *               "type": "model-name"
                     *             }
                     *           ],
                     *           "version": [
                     *             {
                     *               "type": {
                     *                 "text": "sha256"
                     *               },
                     *               "value": "cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88"
                     *             }
                     *           ]
                     *         }
                     *       ],
                     *       "status": "preliminary",
                     *       "category": [
                     *         {
                     *           "coding": [
                     *             {
                     *               "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                     *               "code": "imaging",
                     *               "display": "Imaging"
                     *             }
                     *           ]
                     *         }
                     *       ],
                     *       "code": {
                     *         "coding": [
                     *           {
                     *             "system": "urn:unimed-serve:prompt-set",
                     *             "code": "modality"
                     *           }
                     *         ],
                     *         "text": "modality"
                     *       },
                     *       "issued": "2026-11-30T05:00:00.000Z",
                     *       "valueCodeableConcept": {
                     *         "coding": [
                     *           {
                     *             "system": "urn:unimed-serve:label",
                     *             "code": "ct"
                     *           }
                     *         ],
                     *         "text": "ct"
                     *       },
                     *       "note": [
                     *         {
                     *           "text": "Research aid, not a diagnosis: probabilities are a softmax over the labels offered only, so one of them is always chosen."
                     *         }
                     *       ],
                     *       "device": {
                     *         "reference": "#model",
                     *         "display": "unimed-demo (sha256 cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88)"
                     *       },
                     *       "component": [
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "ct"
                     *               }
                     *             ],
                     *             "text": "ct"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.999907,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "xray"
                     *               }
                     *             ],
                     *             "text": "xray"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000076,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "mri"
                     *               }
                     *             ],
                     *             "text": "mri"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000009,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "fundus"
                     *               }
                     *             ],
                     *             "text": "fundus"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000007,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "ultrasound"
                     *               }
                     *             ],
                     *             "text": "ultrasound"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "histopathology"
                     *               }
                     *             ],
                     *             "text": "histopathology"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/fhir+json": components["schemas"]["FhirObservation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            406: components["responses"]["NotAcceptable"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            422: components["responses"]["Undecodable"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    classifySeries: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "dicomweb": {
                 *         "source": "pacs",
                 *         "study": "1.2.826.0.1.3680043.8.498.1",
                 *         "series": "1.2.826.0.1.3680043.8.498.2"
                 *       },
                 *       "prompt_set": "modality",
                 *       "slices": 16
                 *     }
                 */
                "application/json": components["schemas"]["ClassifySeriesRequest"];
                "multipart/form-data": {
                    /** @description The series' DICOM instances, one file part each. */
                    image?: string[];
                    /** @description A number or `all`. */
                    slices?: string;
                    include_uids?: boolean;
                    labels?: string[];
                    templates?: string[];
                    prompt_set?: string;
                    top_k?: number;
                    /** @description A prediction set that holds the true label with this probability (docs/trust.md): calibrated prompt sets only. */
                    coverage?: number;
                    /** @description Abstain (low_confidence) when the top probability is below this. */
                    min_probability?: number;
                    model?: string;
                    window?: components["schemas"]["WindowPreset"];
                    window_center?: number;
                    window_width?: number;
                };
                "multipart/related": string;
            };
        };
        responses: {
            /** @description The series' predictions and each sampled slice's top label. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "model": "unimed-demo",
                     *       "prompt_set": {
                     *         "name": "modality",
                     *         "version": "68e4de71d2e77509"
                     *       },
                     *       "series": {
                     *         "instances": 120,
                     *         "sampled": 16
                     *       },
                     *       "predictions": [
                     *         {
                     *           "label": "ct",
                     *           "probability": 0.9981,
                     *           "similarity": 0.8712
                     *         },
                     *         {
                     *           "label": "mri",
                     *           "probability": 0.0012,
                     *           "similarity": 0.4198
                     *         },
                     *         {
                     *           "label": "xray",
                     *           "probability": 0.0007,
                     *           "similarity": 0.3796
                     *         }
                     *       ],
                     *       "slices": [
                     *         {
                     *           "index": 0,
                     *           "instance_number": 1,
                     *           "label": "ct",
                     *           "probability": 0.9954
                     *         },
                     *         {
                     *           "index": 8,
                     *           "instance_number": 9,
                     *           "label": "ct",
                     *           "probability": 0.9987
                     *         }
                     *       ],
                     *       "abstained": null,
                     *       "out_of_distribution": {
                     *         "score": 61.4,
                     *         "threshold": 172.719482
                     *       },
                     *       "calibration": {
                     *         "id": "ba36d29a67cb1e7bf213658e74fa863585d85faeae69cd5141876ff49cf29f16",
                     *         "temperature": 0.775946
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["ClassifySeriesResponse"];
                    /** @example <a DICOM Part 10 file: a Comprehensive SR of this classification (docs/pacs.md "DICOM SR answers")> */
                    "application/dicom": components["schemas"]["DicomSr"];
                    /**
                     * @example {
                     *       "resourceType": "Observation",
                     *       "meta": {
                     *         "security": [
                     *           {
                     *             "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                     *             "code": "AIAST",
                     *             "display": "Artificial Intelligence asserted"
                     *           }
                     *         ]
                     *       },
                     *       "contained": [
                     *         {
                     *           "resourceType": "Device",
                     *           "id": "model",
                     *           "deviceName": [
                     *             {
                     *               "name": "unimed-demo",
                     *               "type": "model-name"
                     *             }
                     *           ],
                     *           "version": [
                     *             {
                     *               "type": {
                     *                 "text": "sha256"
                     *               },
                     *               "value": "cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88"
                     *             }
                     *           ]
                     *         }
                     *       ],
                     *       "status": "preliminary",
                     *       "category": [
                     *         {
                     *           "coding": [
                     *             {
                     *               "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                     *               "code": "imaging",
                     *               "display": "Imaging"
                     *             }
                     *           ]
                     *         }
                     *       ],
                     *       "code": {
                     *         "coding": [
                     *           {
                     *             "system": "urn:unimed-serve:prompt-set",
                     *             "code": "modality"
                     *           }
                     *         ],
                     *         "text": "modality"
                     *       },
                     *       "issued": "2026-11-30T05:00:00.000Z",
                     *       "valueCodeableConcept": {
                     *         "coding": [
                     *           {
                     *             "system": "urn:unimed-serve:label",
                     *             "code": "ct"
                     *           }
                     *         ],
                     *         "text": "ct"
                     *       },
                     *       "note": [
                     *         {
                     *           "text": "Research aid, not a diagnosis: probabilities are a softmax over the labels offered only, so one of them is always chosen."
                     *         }
                     *       ],
                     *       "device": {
                     *         "reference": "#model",
                     *         "display": "unimed-demo (sha256 cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88)"
                     *       },
                     *       "component": [
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "ct"
                     *               }
                     *             ],
                     *             "text": "ct"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.999907,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "xray"
                     *               }
                     *             ],
                     *             "text": "xray"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000076,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "mri"
                     *               }
                     *             ],
                     *             "text": "mri"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000009,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "fundus"
                     *               }
                     *             ],
                     *             "text": "fundus"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0.000007,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "ultrasound"
                     *               }
                     *             ],
                     *             "text": "ultrasound"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         },
                     *         {
                     *           "code": {
                     *             "coding": [
                     *               {
                     *                 "system": "urn:unimed-serve:label",
                     *                 "code": "histopathology"
                     *               }
                     *             ],
                     *             "text": "histopathology"
                     *           },
                     *           "valueQuantity": {
                     *             "value": 0,
                     *             "unit": "1",
                     *             "system": "http://unitsofmeasure.org",
                     *             "code": "1"
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/fhir+json": components["schemas"]["FhirObservation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            406: components["responses"]["NotAcceptable"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            422: components["responses"]["Undecodable"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    embedSeries: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EmbedSeriesRequest"];
                "multipart/form-data": {
                    image?: string[];
                    /** @description A number or `all`. */
                    slices?: string;
                    include_uids?: boolean;
                    model?: string;
                    window?: components["schemas"]["WindowPreset"];
                    window_center?: number;
                    window_width?: number;
                };
                "multipart/related": string;
            };
        };
        responses: {
            /** @description The series embedding and the slices'. */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "model": "unimed-demo",
                     *       "dim": 64,
                     *       "series": {
                     *         "instances": 120,
                     *         "sampled": 16
                     *       },
                     *       "embedding": [
                     *         0.1532,
                     *         -0.0871,
                     *         0.0219,
                     *         0.2045
                     *       ],
                     *       "slices": [
                     *         {
                     *           "index": 0,
                     *           "instance_number": 1,
                     *           "embedding": [
                     *             0.1498,
                     *             -0.0902,
                     *             0.0187,
                     *             0.2011
                     *           ]
                     *         },
                     *         {
                     *           "index": 8,
                     *           "instance_number": 9,
                     *           "embedding": [
                     *             0.1561,
                     *             -0.0844,
                     *             0.0243,
                     *             0.2079
                     *           ]
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["EmbedSeriesResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            422: components["responses"]["Undecodable"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    preview: {
        parameters: {
            query?: {
                /** @description Model id (see `GET /models`); the default model when absent. */
                model?: components["parameters"]["ModelQuery"];
                /** @description A named window for greyscale DICOM (width/center in Hounsfield units); not combined with window_center/window_width. */
                window?: components["parameters"]["WindowQuery"];
                /** @description Window center in modality units (HU for CT); with window_width. */
                window_center?: components["parameters"]["WindowCenterQuery"];
                /** @description Window width in modality units, at least 1; with window_center. */
                window_width?: components["parameters"]["WindowWidthQuery"];
                /** @description 0-based frame of a multi-frame DICOM object; required for one (400 without it). */
                frame?: components["parameters"]["FrameQuery"];
                /** @description 0-based page of a multi-page TIFF (default 0). */
                page?: components["parameters"]["PageQuery"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/dicom": string;
                "image/png": string;
                "image/jpeg": string;
                "image/tiff": string;
                "image/webp": string;
                "multipart/related": string;
                "multipart/form-data": {
                    image?: string;
                    /** @description Instead of the image part: JSON {"source", "study", "series", "instance", "frame"?}. */
                    dicomweb?: string;
                    model?: string;
                    window?: components["schemas"]["WindowPreset"];
                    window_center?: number;
                    window_width?: number;
                    frame?: number;
                    page?: number;
                } | unknown | unknown;
                "application/json": components["schemas"]["PreviewRequest"];
            };
        };
        responses: {
            /** @description The S x S RGB image (S = the model's `image_size`). */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-Server-Request-Id": components["headers"]["ServerRequestId"];
                    "X-Model-Sha256": components["headers"]["ModelSha256"];
                    "X-Service-Version": components["headers"]["ServiceVersion"];
                    traceparent: components["headers"]["Traceparent"];
                    /**
                     * @description The image's preprocessing record (schema `Preprocessing`) as JSON.
                     * @example {"source":{"format":"dicom","width":64,"height":48,"channels":1,"bit_depth":12,"has_alpha":false,"pages":1},"dicom":{"modality":"CT","transfer_syntax_uid":"1.2.840.10008.1.2.1","photometric_interpretation":"MONOCHROME2","frame":0,"frames":1,"bits_stored":12,"inverted":false},"window":{"center":-600,"width":1500,"function":"LINEAR","source":"request","preset":"ct-lung"},"transform":{"resize":{"width":149,"height":112},"crop":{"left":18,"top":0,"width":112,"height":112},"size":112}}
                     */
                    "X-Preprocessing"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "image/png": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["TooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            421: components["responses"]["MisdirectedRequest"];
            422: components["responses"]["Undecodable"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            502: components["responses"]["BadGateway"];
            503: components["responses"]["Unavailable"];
            504: components["responses"]["DeadlineExceeded"];
        };
    };
    listModels: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Served models. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "default": "unimed-demo",
                     *       "models": [
                     *         {
                     *           "id": "unimed-demo",
                     *           "sha256": "cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88",
                     *           "embed_dim": 64,
                     *           "image_size": 112,
                     *           "context_length": 256,
                     *           "logit_scale": 15.0848398,
                     *           "providers": {
                     *             "image": "cpu",
                     *             "text": "cpu"
                     *           },
                     *           "intended_use": "Demo and test model of unimed-serve, trained on synthetic images only: it is not a medical model and must not be used on real medical images or for any medical decision.",
                     *           "diagnostic_use": false,
                     *           "default": true,
                     *           "calibration": {
                     *             "id": "ba36d29a67cb1e7bf213658e74fa863585d85faeae69cd5141876ff49cf29f16",
                     *             "prompt_sets": [
                     *               "modality",
                     *               "finding"
                     *             ],
                     *             "ood_threshold": 172.719482
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["ModelsResponse"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
    listPromptSets: {
        parameters: {
            query?: {
                /** @description Model id (see `GET /models`); the default model when absent. */
                model?: components["parameters"]["ModelQuery"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prompt sets of every model (or of the model named by `model`). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "prompt_sets": [
                     *         {
                     *           "name": "modality",
                     *           "version": "68e4de71d2e77509",
                     *           "model": "unimed-demo",
                     *           "labels": [
                     *             "xray",
                     *             "ct",
                     *             "mri",
                     *             "ultrasound",
                     *             "histopathology",
                     *             "fundus"
                     *           ],
                     *           "templates": [
                     *             "a {} image.",
                     *             "a medical {} image.",
                     *             "an example of {}.",
                     *             "a {} of a patient.",
                     *             "{} scan."
                     *           ],
                     *           "source": "model",
                     *           "description": "imaging modality of the demo's synthetic images"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["PromptSetsResponse"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": components["schemas"]["HealthResponse"];
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ready",
                     *       "models": [
                     *         "unimed-demo"
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["ReadyResponse"];
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example # HELP unimed_model_info Served models: always 1, labelled with the model id, its sha256, the execution provider in use and the one asked for first (EXECUTION_PROVIDERS).
                     *     # TYPE unimed_model_info gauge
                     *     unimed_model_info{model="unimed-demo",sha256="cbeb218bb0be4e56602e4f8f2950e5b37685c5289e3b64916c3c08d271c58b88",provider="cpu",requested_provider="cpu"} 1
                     */
                    "text/plain": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    openapiJson: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document the routes validate requests with. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "openapi": "3.1.0",
                     *       "info": {
                     *         "title": "unimed-serve",
                     *         "version": "0.1.0"
                     *       },
                     *       "paths": {
                     *         "/embed/text": {}
                     *       }
                     *     }
                     */
                    "application/json": {
                        openapi: string;
                        info: Record<string, never>;
                        paths: Record<string, never>;
                    };
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    openapiYaml: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description openapi.yaml, byte for byte. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example openapi: 3.1.0
                     *     info:
                     *       title: unimed-serve
                     */
                    "application/yaml": string;
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    docs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The reference's HTML page. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /** @example <!DOCTYPE html><html lang="en"><head><title>Swagger UI</title>... */
                    "text/html": string;
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    page: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The page's HTML. */
            200: {
                headers: {
                    /** @example default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none' */
                    "Content-Security-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    /** @example <!doctype html><html lang="en"><head><title>unimed-serve: classify an image</title>... */
                    "text/html": string;
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            421: components["responses"]["MisdirectedRequest"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    openInferenceServerMetadata: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The server's name, version and the protocol extensions it implements. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "name": "unimed-serve",
                     *       "version": "0.1.0",
                     *       "extensions": [
                     *         "binary_tensor_data"
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceServerMetadata"];
                };
            };
            401: components["responses"]["OpenInferenceError"];
            403: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            429: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
        };
    };
    openInferenceLive: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "live": true
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceLiveResponse"];
                };
            };
            403: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
        };
    };
    openInferenceReady: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every model is ready. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "ready": true
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceReadyResponse"];
                };
            };
            403: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
            503: components["responses"]["OpenInferenceError"];
        };
    };
    openInferenceModelMetadata: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description `{model}-text` or `{model}-image`, for a model of `GET /models`. */
                name: components["parameters"]["OpenInferenceModelName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The model's input (a BYTES tensor of texts or encoded images) and output (FP32 embeddings, one row per element). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "name": "unimed-demo-text",
                     *       "platform": "onnxruntime_onnx",
                     *       "inputs": [
                     *         {
                     *           "name": "text",
                     *           "datatype": "BYTES",
                     *           "shape": [
                     *             -1
                     *           ]
                     *         }
                     *       ],
                     *       "outputs": [
                     *         {
                     *           "name": "embedding",
                     *           "datatype": "FP32",
                     *           "shape": [
                     *             -1,
                     *             64
                     *           ]
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceModelMetadata"];
                };
            };
            401: components["responses"]["OpenInferenceError"];
            403: components["responses"]["OpenInferenceError"];
            404: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            429: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
            503: components["responses"]["OpenInferenceError"];
        };
    };
    openInferenceModelReady: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description `{model}-text` or `{model}-image`, for a model of `GET /models`. */
                name: components["parameters"]["OpenInferenceModelName"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The model is ready. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "name": "unimed-demo-image",
                     *       "ready": true
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceModelReady"];
                };
            };
            401: components["responses"]["OpenInferenceError"];
            403: components["responses"]["OpenInferenceError"];
            404: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            429: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
            503: components["responses"]["OpenInferenceError"];
        };
    };
    openInferenceInfer: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description `{model}-text` or `{model}-image`, for a model of `GET /models`. */
                name: components["parameters"]["OpenInferenceModelName"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "id": "42",
                 *       "inputs": [
                 *         {
                 *           "name": "text",
                 *           "shape": [
                 *             2
                 *           ],
                 *           "datatype": "BYTES",
                 *           "data": [
                 *             "chest x-ray",
                 *             "brain MRI"
                 *           ]
                 *         }
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["InferenceRequest"];
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description One embedding per element, as one FP32 tensor. */
            200: {
                headers: {
                    /** @description With binary output, the length of the JSON at the start of the body. */
                    "Inference-Header-Content-Length"?: number;
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "model_name": "unimed-demo-text",
                     *       "id": "42",
                     *       "outputs": [
                     *         {
                     *           "name": "embedding",
                     *           "datatype": "FP32",
                     *           "shape": [
                     *             2,
                     *             4
                     *           ],
                     *           "data": [
                     *             0.0465,
                     *             -0.0709,
                     *             -0.1106,
                     *             0.0035,
                     *             0.12,
                     *             0.03,
                     *             -0.2,
                     *             0.11
                     *           ]
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["InferenceResponse"];
                    /** @example {"model_name":"unimed-demo-image","outputs":[{"name":"embedding","datatype":"FP32","shape":[1,64],"parameters":{"binary_data_size":256}}]}<256 bytes: 64 FP32 values, little-endian> */
                    "application/octet-stream": string;
                };
            };
            400: components["responses"]["OpenInferenceError"];
            401: components["responses"]["OpenInferenceError"];
            403: components["responses"]["OpenInferenceError"];
            404: components["responses"]["OpenInferenceError"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["OpenInferenceError"];
            415: components["responses"]["OpenInferenceError"];
            421: components["responses"]["OpenInferenceError"];
            422: components["responses"]["OpenInferenceError"];
            429: components["responses"]["OpenInferenceError"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["OpenInferenceError"];
            503: components["responses"]["OpenInferenceError"];
            504: components["responses"]["OpenInferenceError"];
        };
    };
    listJobs: {
        parameters: {
            query?: {
                status?: "queued" | "running" | "done" | "failed";
                limit?: number;
                /** @description The `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of jobs; `next_cursor` when there are more. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "jobs": [
                     *         {
                     *           "id": "0b6d5a0e-6c1e-4a7e-9d5c-2f7f7f0e1c11",
                     *           "status": "done",
                     *           "attempts": 1
                     *         }
                     *       ],
                     *       "next_cursor": "1"
                     *     }
                     */
                    "application/json": components["schemas"]["JobList"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
    createJob: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "source": "pacs",
                 *       "study": "1.2.3",
                 *       "prompt_set": "modality"
                 *     }
                 */
                "application/json": components["schemas"]["JobRequest"];
            };
        };
        responses: {
            /** @description The job an earlier request with this Idempotency-Key and body created. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b6d5a0e-6c1e-4a7e-9d5c-2f7f7f0e1c11",
                     *       "status": "running"
                     *     }
                     */
                    "application/json": components["schemas"]["JobCreated"];
                };
            };
            /** @description The job is kept and queued. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b6d5a0e-6c1e-4a7e-9d5c-2f7f7f0e1c11",
                     *       "status": "queued"
                     *     }
                     */
                    "application/json": components["schemas"]["JobCreated"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            409: components["responses"]["Conflict"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
    getJob: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job; `result` holds, per series, the classification as /classify/series answers it. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b6d5a0e-6c1e-4a7e-9d5c-2f7f7f0e1c11",
                     *       "status": "done",
                     *       "attempts": 1,
                     *       "result": {
                     *         "series": [
                     *           {
                     *             "series": "1.2.826.0.1.3680043.8.498.1.1",
                     *             "classification": {
                     *               "model": "unimed-demo",
                     *               "series": {
                     *                 "instances": 120,
                     *                 "sampled": 16
                     *               },
                     *               "predictions": [
                     *                 {
                     *                   "label": "ct",
                     *                   "probability": 0.9981,
                     *                   "similarity": 0.8712
                     *                 },
                     *                 {
                     *                   "label": "mri",
                     *                   "probability": 0.0019,
                     *                   "similarity": 0.4198
                     *                 }
                     *               ],
                     *               "slices": [
                     *                 {
                     *                   "index": 0,
                     *                   "instance_number": 1,
                     *                   "label": "ct",
                     *                   "probability": 0.9954
                     *                 }
                     *               ],
                     *               "abstained": null,
                     *               "out_of_distribution": {
                     *                 "score": 61.4,
                     *                 "threshold": 172.719482
                     *               },
                     *               "calibration": {
                     *                 "id": "ba36d29a67cb1e7bf213658e74fa863585d85faeae69cd5141876ff49cf29f16",
                     *                 "temperature": 0.775946
                     *               }
                     *             }
                     *           }
                     *         ]
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["Job"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            421: components["responses"]["MisdirectedRequest"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["Unavailable"];
        };
    };
}
