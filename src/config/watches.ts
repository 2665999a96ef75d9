/**
 * Watches (WATCHES; docs/pacs.md "Watching a source"): each polls a DICOMweb source's QIDO-RS study search with a
 * few matching keys and creates a job for every study it sees first after it began, as the configured API key.
 * Everything is checked at start: the source is configured, the key exists and reaches the source, the job's
 * fields are those of POST /jobs (less `source`, `study` and `series`), `destination` among them.
 */
import { parse as parseYaml } from 'yaml';
import type { ApiKey } from './api-keys.ts';
import { ConfigError, type Env, fileText, text } from './env.ts';
import { isRecord } from '../records.ts';

/** The QIDO-RS study matching keys a watch may filter on (PS3.18 10.6.1.2), and what each value must look like. */
export const STUDY_FILTERS = {
  /** One modality, or several separated by commas (CT,MR): code strings. */
  ModalitiesInStudy: /^[A-Z0-9_ ]{1,16}(,[A-Z0-9_ ]{1,16}){0,15}$/,
  /** Free text, with the wildcards * and ? (a printable line of at most 64 characters). */
  StudyDescription: /^[^\p{Cc}]{1,64}$/u,
  /** A date YYYYMMDD or a range (20240101-, -20241231, 20240101-20241231). */
  StudyDate: /^(\d{8}|\d{8}-|-\d{8}|\d{8}-\d{8})$/,
} as const;
export type StudyFilter = keyof typeof STUDY_FILTERS;
export type StudyFilters = Partial<Record<StudyFilter, string>>;

/** The job a watch creates for a study: the classification fields of POST /jobs. */
export interface WatchJob {
  labels?: (string | { name: string; text: string })[];
  templates?: string[];
  prompt_set?: string;
  top_k?: number;
  coverage?: number;
  min_probability?: number;
  model?: string;
  /** A source to store each series' SR in (STOW-RS); the key's sources= must reach it. */
  destination?: string;
}

export interface WatchConfig {
  name: string;
  source: string;
  filters: StudyFilters;
  intervalMs: number;
  /** Studies asked for per QIDO-RS request (`limit`), and requests per poll at most. */
  pageSize: number;
  maxPages: number;
  /** The API key whose jobs these are ('' on a service without keys): they are listed for it, and run with its grant. */
  keyId: string;
  /** That key's `sources=` and `models=` at start (`*` on a service without keys). */
  sources: string[];
  models: string[] | undefined;
  job: WatchJob;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const WATCH_KEYS = ['source', 'filters', 'interval_seconds', 'page_size', 'max_pages', 'key', 'job'];
const JOB_KEYS = ['labels', 'templates', 'prompt_set', 'top_k', 'coverage', 'min_probability', 'model', 'destination'];

function bounded(value: unknown, where: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${where} must be an integer between ${min} and ${max}`);
  return value;
}

function unknownKey(value: Record<string, unknown>, known: readonly string[], where: string): void {
  const extra = Object.keys(value).find((k) => !known.includes(k));
  if (extra !== undefined) throw new ConfigError(`${where}: unknown key "${extra.slice(0, 80)}" (accepted: ${known.join(', ')})`);
}

function filters(value: unknown, where: string): StudyFilters {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new ConfigError(`${where} must be an object of QIDO-RS study matching keys`);
  unknownKey(value, Object.keys(STUDY_FILTERS), where);
  const out: StudyFilters = {};
  for (const [key, pattern] of Object.entries(STUDY_FILTERS) as [StudyFilter, RegExp][]) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !pattern.test(v)) throw new ConfigError(`${where}.${key} is not a valid ${key} value`);
    out[key] = v;
  }
  return out;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';
const fraction = (v: unknown): boolean => typeof v === 'number' && v > 0 && v < 1;
const isLabel = (v: unknown): boolean =>
  nonEmpty(v) || (isRecord(v) && Object.keys(v).length === 2 && nonEmpty(v.name) && nonEmpty(v.text));

/** The fields POST /jobs takes, checked as its schema checks them; the limits and the prompt set are checked at each submission. */
function job(value: unknown, where: string): WatchJob {
  if (!isRecord(value)) throw new ConfigError(`${where} must be an object (the fields of POST /jobs but source, study and series)`);
  unknownKey(value, JOB_KEYS, where);
  const { labels, templates, prompt_set, top_k, coverage, min_probability, model, destination } = value;
  const fail = (field: string, what: string) => new ConfigError(`${where}.${field} must be ${what}`);
  if (labels !== undefined && !(Array.isArray(labels) && labels.length >= 2 && labels.every(isLabel)))
    throw fail('labels', 'an array of two labels or more (strings, or {name, text})');
  if (
    templates !== undefined &&
    !(Array.isArray(templates) && templates.length >= 1 && templates.every((s) => nonEmpty(s) && s.includes('{}')))
  )
    throw fail('templates', 'an array of strings, each with {}');
  if (prompt_set !== undefined && !nonEmpty(prompt_set)) throw fail('prompt_set', 'a non-empty string');
  if (top_k !== undefined && !(typeof top_k === 'number' && Number.isInteger(top_k) && top_k >= 1)) throw fail('top_k', 'an integer >= 1');
  if (coverage !== undefined && !fraction(coverage)) throw fail('coverage', 'a number between 0 and 1');
  if (min_probability !== undefined && !fraction(min_probability)) throw fail('min_probability', 'a number between 0 and 1');
  if (model !== undefined && !(nonEmpty(model) && model.length <= 200)) throw fail('model', 'a model id');
  if (destination !== undefined && !nonEmpty(destination)) throw fail('destination', 'the name of a source of DICOMWEB_SOURCES');
  if ((labels === undefined) === (prompt_set === undefined)) throw new ConfigError(`${where}: give labels or prompt_set (one of them)`);
  if (templates !== undefined && prompt_set !== undefined) throw new ConfigError(`${where}: templates cannot be combined with prompt_set`);
  return value;
}

/** What a watch needs from the rest of the configuration. */
export interface WatchContext {
  /** Names of DICOMWEB_SOURCES. */
  sources: ReadonlySet<string>;
  /** The API keys at start (API_KEYS and API_KEYS_FILE as read then). */
  keys: readonly ApiKey[];
  /** Whether a job store is configured (JOBS_DB or JOBS_DATABASE_URL). */
  jobsEnabled: boolean;
}

function owner(value: unknown, where: string, source: string, context: WatchContext): Pick<WatchConfig, 'keyId' | 'sources' | 'models'> {
  if (context.keys.length === 0) {
    if (value !== undefined) throw new ConfigError(`${where}.key names an API key, but no API key is configured`);
    return { keyId: '', sources: ['*'], models: undefined };
  }
  if (typeof value !== 'string') throw new ConfigError(`${where}.key must be the id of an API key (its jobs belong to that key)`);
  const key = context.keys.find((k) => k.id === value);
  if (key === undefined) throw new ConfigError(`${where}.key "${value.slice(0, 80)}" is not the id of a configured API key`);
  const sources = key.sources ?? [];
  if (!sources.includes('*') && !sources.includes(source))
    throw new ConfigError(`${where}.key "${key.id}" may not reach source "${source}" (its sources= does not name it)`);
  return { keyId: key.id, sources, models: key.models };
}

function watch(name: string, value: unknown, context: WatchContext): WatchConfig {
  const where = `WATCHES.${name}`;
  if (!NAME.test(name)) throw new ConfigError(`WATCHES: watch name "${name.slice(0, 80)}" must be 1-64 characters of A-Z a-z 0-9 _ . -`);
  if (!isRecord(value)) throw new ConfigError(`${where} must be an object`);
  unknownKey(value, WATCH_KEYS, where);
  const { source } = value;
  if (typeof source !== 'string' || !context.sources.has(source))
    throw new ConfigError(`${where}.source must name a source of DICOMWEB_SOURCES`);
  const jobFields = job(value.job, `${where}.job`);
  const ownerFields = owner(value.key, where, source, context);
  if (jobFields.model !== undefined && ownerFields.models !== undefined && !ownerFields.models.includes(jobFields.model))
    throw new ConfigError(`${where}.job.model is not one of the models= of key "${ownerFields.keyId}"`);
  const { destination } = jobFields;
  if (destination !== undefined) {
    if (!context.sources.has(destination)) throw new ConfigError(`${where}.job.destination must name a source of DICOMWEB_SOURCES`);
    if (!ownerFields.sources.includes('*') && !ownerFields.sources.includes(destination))
      throw new ConfigError(
        `${where}.key "${ownerFields.keyId}" may not reach destination "${destination}" (its sources= does not name it)`,
      );
  }
  return {
    name,
    source,
    filters: filters(value.filters, `${where}.filters`),
    intervalMs: bounded(value.interval_seconds, `${where}.interval_seconds`, 60, 1, 86_400) * 1000,
    pageSize: bounded(value.page_size, `${where}.page_size`, 100, 1, 1000),
    maxPages: bounded(value.max_pages, `${where}.max_pages`, 50, 1, 10_000),
    ...ownerFields,
    job: jobFields,
  };
}

/** WATCHES: a JSON object of named watches, or the path of a JSON or YAML file holding one. */
export function watchesConfig(env: Env, cwd: string, context: WatchContext): WatchConfig[] {
  const raw = text(env, 'WATCHES');
  if (raw === undefined) return [];
  if (!context.jobsEnabled) throw new ConfigError('WATCHES needs the jobs enabled (JOBS_DB or JOBS_DATABASE_URL): a watch creates jobs');
  const inline = raw.startsWith('{') || raw.startsWith('[');
  let parsed: unknown;
  try {
    parsed = inline ? JSON.parse(raw) : parseYaml(fileText(raw, 'WATCHES file', { cwd, maxChars: 1024 * 1024 }));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`WATCHES is not valid ${inline ? 'JSON' : 'JSON or YAML'}`);
  }
  if (!isRecord(parsed)) throw new ConfigError('WATCHES must be an object of named watches');
  return Object.entries(parsed).map(([name, value]) => watch(name, value, context));
}
