import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';

/** TRUSTED_PROXIES as a set to test addresses against: each entry an address or a CIDR subnet. */
export function trustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/**
 * Every value of a header, each occurrence apart (read from rawHeaders, which Node's own parse and an injected
 * request both fill; `headers` keeps only the first of some headers).
 */
export function headerValues(raw: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.rawHeaders.length; i += 2) {
    if (raw.rawHeaders[i]!.toLowerCase() === name) values.push(raw.rawHeaders[i + 1]!);
  }
  return values;
}

function isTrusted(trusted: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (trusted.check(address, family === 6 ? 'ipv6' : 'ipv4')) return true;
  // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; an IPv4 entry should match it.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] !== undefined && trusted.check(mapped[1], 'ipv4');
}

/**
 * The address of the client: the connection's peer, unless that peer is a trusted proxy; then X-Forwarded-For
 * read from the right, skipping trusted proxies, so that a client cannot name itself by sending the header.
 */
export function clientAddress(request: FastifyRequest, trusted: BlockList): string {
  let address = request.raw.socket?.remoteAddress ?? 'unknown';
  if (!isTrusted(trusted, address)) return address;
  const forwarded = headerValues(request.raw, 'x-forwarded-for')
    .flatMap((value) => value.split(','))
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '');
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i]!;
    if (isIP(hop) === 0) return address;
    address = hop;
    if (!isTrusted(trusted, hop)) return address;
  }
  return address;
}
