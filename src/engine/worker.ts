/** Inference worker entry (src/engine/encoder.ts starts it): one onnxruntime session, served one batch at a time. */
import { serveTasks } from '../workers/serve.ts';
import { startInferenceSession } from './inference-session.ts';

await serveTasks(startInferenceSession);
