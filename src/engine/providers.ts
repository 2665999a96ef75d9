import type { InferenceSession } from 'onnxruntime-node';
import type { ProviderAttempt } from './protocol.ts';

type SessionFactory = (provider: string) => Promise<InferenceSession>;

/**
 * Creates a session with the first execution provider that loads, in the configured order. onnxruntime-node
 * rejects session creation when a provider's library cannot load (no CUDA on the machine, no WebGPU adapter),
 * so each rejection is recorded (provider + onnxruntime's message) and the next provider is tried.
 */
export async function createSessionWithFallback(
  providers: readonly string[],
  create: SessionFactory,
): Promise<{ session: InferenceSession; provider: string; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  for (const provider of providers) {
    try {
      return { session: await create(provider), provider, attempts };
    } catch (err) {
      attempts.push({ provider, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const tried = attempts.map((a) => `${a.provider}: ${a.error}`).join('; ');
  throw Object.assign(new Error(`no execution provider could create a session (${tried})`), { detail: attempts });
}
