// The API key entries: each option parsed and refused with a message naming the entry, never its text.
import t from 'tap';
import { ConfigError } from '../../src/config/env.ts';
import { parseApiKeysFile, parseApiKeysVariable, sha256 } from '../../src/config/api-keys.ts';

const KEY = 'k-0123456789abcdef';

t.test('sources= lists the DICOMweb sources a key may reach; without it, none', (t) => {
  const [listed, all, none] = parseApiKeysFile(
    [`a:${KEY}1 sources=pacs,teaching-archive`, `b:${KEY}2 sources=*`, `c:${KEY}3 routes=classify`].join('\n'),
    'keys',
  );
  t.same(listed?.sources, ['pacs', 'teaching-archive']);
  t.same(all?.sources, ['*']);
  t.equal(none?.sources, undefined, 'no option: no source (access-control reads undefined as none)');
  t.same(listed?.sha256, sha256(`${KEY}1`));
  const [first, second] = parseApiKeysVariable(`a:${KEY}1 sources=pacs,archive, b:${KEY}2 models=m1,m2 sources=*`);
  t.same([first?.sources, second?.sources, second?.models], [['pacs', 'archive'], ['*'], ['m1', 'm2']], 'commas in API_KEYS lists');
  t.end();
});

t.test('a bad sources= is refused, naming the line but not its text', (t) => {
  const cases: [string, RegExp][] = [
    [`a:${KEY} sources=`, /line 1: sources= lists nothing/],
    [`a:${KEY} sources=pacs sources=other`, /line 1: option sources= given twice/],
    [`a:${KEY} sources=pa/cs`, /line 1: sources= takes DICOMWEB_SOURCES names/],
    [`a:${KEY} source=pacs`, /line 1: unknown option \(known: rate=, models=, routes=, sources=\)/],
  ];
  for (const [line, message] of cases) {
    t.throws(() => parseApiKeysFile(line, 'keys'), message);
    try {
      parseApiKeysFile(line, 'keys');
    } catch (err) {
      t.ok(err instanceof ConfigError);
      t.notOk((err as Error).message.includes(KEY), 'the key is not quoted');
    }
  }
  t.end();
});
