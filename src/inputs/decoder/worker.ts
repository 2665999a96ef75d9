// Entry of a pixel decoder thread (src/inputs/decoder/pixel-decoder.ts starts it).
import { serveTasks } from '../../workers/serve.ts';
import { startPixelDecoder } from './tasks.ts';

await serveTasks(startPixelDecoder);
