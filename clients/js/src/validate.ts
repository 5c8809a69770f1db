// A validator for the subset of JSON Schema that pydantic emits for the event contract: $ref into
// $defs, oneOf with a discriminator, anyOf, type, const, enum, string length and pattern, number
// bounds, formats uuid and date-time, required. Messages name the field and the rule, never the value:
// events carry personal data.

export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  format?: string;
  [other: string]: unknown;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
// RFC 3339 with a mandatory offset: the contract's timestamps are timezone-aware.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer" && Number.isFinite(value as number));
}

export class Validator {
  private readonly patterns = new Map<string, RegExp>();

  constructor(private readonly root: JsonSchema) {}

  /** The contract violations of ``value``: empty when it is valid. */
  errors(value: unknown): string[] {
    return this.check(this.root, value, "event");
  }

  private resolve(schema: JsonSchema): JsonSchema {
    if (!schema.$ref) return schema;
    const name = schema.$ref.replace(/^#\/\$defs\//, "");
    const target = this.root.$defs?.[name];
    if (!target) throw new Error(`schema: unresolved $ref ${schema.$ref}`);
    return target;
  }

  private check(schemaOrRef: JsonSchema, value: unknown, where: string): string[] {
    const schema = this.resolve(schemaOrRef);
    if (schema.discriminator && schema.oneOf) return this.checkDiscriminated(schema, value, where);
    if (schema.anyOf) {
      const results = schema.anyOf.map((option) => this.check(option, value, where));
      return results.some((r) => r.length === 0) ? [] : results.reduce((a, b) => (a.length <= b.length ? a : b));
    }
    if (schema.oneOf) {
      const passing = schema.oneOf.filter((option) => this.check(option, value, where).length === 0).length;
      return passing === 1 ? [] : [`${where}: must match exactly one schema`];
    }
    if (schema.type && !hasType(value, schema.type)) return [`${where}: must be of type ${schema.type}`];
    if ("const" in schema && value !== schema.const) return [`${where}: must be ${JSON.stringify(schema.const)}`];
    if (schema.enum && !schema.enum.includes(value)) {
      return [`${where}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`];
    }
    if (typeof value === "string") return this.checkString(schema, value, where);
    if (typeof value === "number") return this.checkNumber(schema, value, where);
    if (typeOf(value) === "object") return this.checkObject(schema, value as Record<string, unknown>, where);
    return [];
  }

  private checkDiscriminated(schema: JsonSchema, value: unknown, where: string): string[] {
    if (typeOf(value) !== "object") return [`${where}: must be an object`];
    const { propertyName, mapping = {} } = schema.discriminator!;
    const tag = (value as Record<string, unknown>)[propertyName];
    const ref = typeof tag === "string" ? mapping[tag] : undefined;
    if (!ref) return [`${propertyName}: must be one of ${Object.keys(mapping).join(", ")}`];
    return this.check({ $ref: ref }, value, where);
  }

  private checkString(schema: JsonSchema, value: string, where: string): string[] {
    // Lengths in code points, as Python counts them (not UTF-16 units).
    const length = schema.minLength !== undefined || schema.maxLength !== undefined ? [...value].length : 0;
    if (schema.minLength !== undefined && length < schema.minLength) {
      return [`${where}: must have at least ${schema.minLength} characters`];
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      return [`${where}: must have at most ${schema.maxLength} characters`];
    }
    if (schema.pattern && !this.regex(schema.pattern).test(value)) return [`${where}: must match ${schema.pattern}`];
    if (schema.format === "uuid" && !UUID.test(value)) return [`${where}: must be a UUID`];
    if (schema.format === "date-time" && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) {
      return [`${where}: must be an ISO 8601 date-time with a timezone`];
    }
    return [];
  }

  private checkNumber(schema: JsonSchema, value: number, where: string): string[] {
    if (!Number.isFinite(value)) return [`${where}: must be a finite number`];
    if (schema.minimum !== undefined && value < schema.minimum) return [`${where}: must be >= ${schema.minimum}`];
    if (schema.maximum !== undefined && value > schema.maximum) return [`${where}: must be <= ${schema.maximum}`];
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
      return [`${where}: must be > ${schema.exclusiveMinimum}`];
    }
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
      return [`${where}: must be < ${schema.exclusiveMaximum}`];
    }
    return [];
  }

  private checkObject(schema: JsonSchema, value: Record<string, unknown>, where: string): string[] {
    const errors = (schema.required ?? []).filter((name) => !(name in value)).map((name) => `${name}: is required`);
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      if (name in value) errors.push(...this.check(property, value[name], name));
    }
    return errors;
  }

  private regex(pattern: string): RegExp {
    let compiled = this.patterns.get(pattern);
    if (!compiled) this.patterns.set(pattern, (compiled = new RegExp(pattern, "u")));
    return compiled;
  }
}
