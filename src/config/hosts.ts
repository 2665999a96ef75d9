/**
 * Which `Host` names the service answers for (ALLOWED_HOSTS) and which address it listens on without API keys
 * (HOST, ALLOW_UNAUTHENTICATED_NETWORK): the defence against DNS rebinding, where a page on a name the attacker
 * controls is re-pointed at this service and calls it as its own origin (docs/security.md "Host names and the
 * listen address"). Pure functions: src/http/security/host-check.ts applies them to requests, and the manifests'
 * test applies them to the probes and scrapes that docker/k8s renders.
 */
import { BlockList, isIP } from 'node:net';
import { boolean, ConfigError, type Env, list, text } from './env.ts';

/** A host as a request names it: lower-case, without a trailing dot, IPv6 in brackets; the port if one was given. */
export interface HostName {
  name: string;
  port: number | undefined;
  /** An IPv4 or IPv6 address rather than a name: DNS rebinding cannot produce one (the browser sends what the URL says). */
  ip: boolean;
}

/** One ALLOWED_HOSTS entry: `name`, `name:port`, `.domain` (the domain and every name under it), an IP address. */
export interface HostEntry {
  name: string;
  port: number | undefined;
  subdomains: boolean;
}

export interface HostPolicy {
  /** '*': every Host. */
  names: readonly HostEntry[] | '*';
  /** Whether a Host that is an IP address passes on every route, or only on the probe and metrics routes. */
  ipAddresses: 'every-route' | 'probe-routes';
  /** Where the policy comes from, for the start log and the docs. */
  source: 'ALLOWED_HOSTS' | 'default: API keys' | 'default: no API keys';
}

/** The routes kubelet probes and Prometheus scrapes call by the pod's IP address, whatever ALLOWED_HOSTS says. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const NAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;

/** `host[:port]` as a Host header or an ALLOWED_HOSTS entry writes it; undefined when it is not one. */
export function parseHost(value: string): HostName | undefined {
  const lower = value.trim().toLowerCase();
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(lower);
  if (match === null) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && port > 65535) return undefined;
  const host = match[1]!;
  if (host.startsWith('[')) {
    const address = host.slice(1, -1);
    return isIP(address) === 6 ? { name: `[${address}]`, port, ip: true } : undefined;
  }
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (isIP(name) === 4) return { name, port, ip: true };
  return NAME.test(name) ? { name, port, ip: false } : undefined;
}

function entry(raw: string): HostEntry {
  const subdomains = raw.startsWith('.');
  const host = parseHost(subdomains ? raw.slice(1) : raw);
  if (host === undefined || (subdomains && host.ip))
    throw new ConfigError(
      `ALLOWED_HOSTS: "${raw}" is not a host name such as unimed.example.org, unimed.example.org:8443, .example.org, 10.0.0.5 or [::1] (or * alone)`,
    );
  return { name: host.name, port: host.port, subdomains };
}

/**
 * ALLOWED_HOSTS as set, else the default decided at start: with API keys, every Host (the keys guard the routes);
 * with none, `localhost` and IP addresses only, so a name an attacker can re-point is refused.
 */
export function allowedHosts(env: Env, keysAtStart: boolean): HostPolicy {
  const entries = list(env, 'ALLOWED_HOSTS', []);
  if (entries.length === 0)
    return keysAtStart
      ? { names: '*', ipAddresses: 'every-route', source: 'default: API keys' }
      : { names: [{ name: 'localhost', port: undefined, subdomains: false }], ipAddresses: 'every-route', source: 'default: no API keys' };
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError('ALLOWED_HOSTS: * (every host) stands alone');
    return { names: '*', ipAddresses: 'every-route', source: 'ALLOWED_HOSTS' };
  }
  return { names: entries.map(entry), ipAddresses: 'probe-routes', source: 'ALLOWED_HOSTS' };
}

function matches(entry: HostEntry, host: HostName): boolean {
  if (entry.port !== undefined && entry.port !== host.port) return false;
  return host.name === entry.name || (entry.subdomains && host.name.endsWith(`.${entry.name}`));
}

/**
 * Whether a request with this `Host` header may reach the route `route` (its URL as registered, such as
 * `/readyz`; undefined when no route matched). Names compare case-insensitively, a trailing dot ignored; an entry
 * with a port matches that port only, one without any port. No Host, or one that is not a host: refused unless '*'.
 */
export function hostAllowed(policy: HostPolicy, header: string | undefined, route: string | undefined): boolean {
  if (policy.names === '*') return true;
  const host = header === undefined ? undefined : parseHost(header);
  if (host === undefined) return false;
  if (host.ip && (policy.ipAddresses === 'every-route' || (route !== undefined && PROBE_ROUTES.has(route)))) return true;
  return policy.names.some((e) => matches(e, host));
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether listening on `host` is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const family = isIP(host);
  if (family === 0) return host.toLowerCase() === 'localhost';
  return LOOPBACK.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * HOST: with API keys at start, 0.0.0.0 by default; without, 127.0.0.1, and any address others can reach is
 * refused unless ALLOW_UNAUTHENTICATED_NETWORK=true says so on purpose (keys added to API_KEYS_FILE later do not
 * change the address: it is chosen once, at start).
 */
export function listenHost(env: Env, keysAtStart: boolean): string {
  const optIn = boolean(env, 'ALLOW_UNAUTHENTICATED_NETWORK', false);
  const host = text(env, 'HOST') ?? (keysAtStart ? '0.0.0.0' : '127.0.0.1');
  if (!keysAtStart && !optIn && !isLoopback(host))
    throw new ConfigError(
      `HOST=${host} would let other machines call every route, and no API key is configured: set API_KEYS_FILE or API_KEYS, ` +
        'or ALLOW_UNAUTHENTICATED_NETWORK=true to serve without keys on purpose (docs/security.md)',
    );
  return host;
}
