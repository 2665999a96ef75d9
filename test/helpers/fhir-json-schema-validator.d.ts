/** The FHIR R4 JSON-schema validator used by the FHIR tests (the package ships no typings). */
declare module '@asymmetrik/fhir-json-schema-validator' {
  export default class JSONSchemaValidator {
    constructor(schema?: unknown, ajvSettings?: Record<string, unknown>);
    /** The validation errors; empty when the resource is valid. */
    validate(resource: unknown, verbose?: boolean): unknown[];
  }
}
