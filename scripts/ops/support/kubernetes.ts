import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './dockerfile';

/**
 * Kubernetes manifests checked offline, as a cluster would: each object against the API's JSON
 * schema (kubernetes-models, @kubernetes-models/keda), and, like `kubectl apply`'s strict field
 * validation (kubeconform -strict), no field the schema does not know. The schemas' validators
 * allow unknown fields, so that second check walks each object along the models' TypeScript types.
 */

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: unknown;
}

export interface ManifestFile {
  file: string; // relative to the project root
  documents: Manifest[];
}

export const K8S_DIR = join(ROOT, 'k8s');

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null);
}

/** Prometheus rules and Grafana dashboards (checked by monitoring.spec.ts), not cluster objects. */
const NOT_MANIFESTS = join(K8S_DIR, 'monitoring');

/** Every YAML file under k8s/ (but k8s/monitoring/), its documents parsed. */
export function readManifestFiles(dir = K8S_DIR): ManifestFile[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (path === NOT_MANIFESTS) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(entry)) files.push(path);
    }
  };
  walk(dir);
  return files.map((path) => ({ file: relative(ROOT, path), documents: parseManifests(readFileSync(path, 'utf8')) }));
}

/** The model module and interface for an object: `apps/v1` Deployment → kubernetes-models/apps/v1/Deployment, IDeployment. */
export function modelOf(apiVersion: string, kind: string): { module: string; type: string } {
  if (apiVersion.startsWith('keda.sh/')) return { module: `@kubernetes-models/keda/${apiVersion}/${kind}`, type: `I${kind}` };
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return { module: `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`, type: `I${kind}` };
}

/** Schema validation with the models' validators: a list of "file kind/name: problem". */
export async function schemaProblems(file: string, manifest: Manifest): Promise<string[]> {
  const { module } = modelOf(manifest.apiVersion, manifest.kind);
  const where = `${file} ${manifest.kind}/${manifest.metadata?.name}`;
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = ((await import(module)) as Record<string, new (data: unknown) => { validate(): void }>)[manifest.kind];
  } catch (error) {
    return [`${where}: no schema for ${manifest.apiVersion} ${manifest.kind} (${String(error)})`];
  }
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}

/** Type-checking the models takes seconds: one program per set of models. */
const programs = new Map<string, { problems: string[] } | { checker: ts.TypeChecker; typeOfModel: Map<string, ts.Type> }>();

function modelProgram(modules: Array<{ module: string; type: string }>) {
  const probe = join(ROOT, 'scripts', 'ops', '__k8s_types__.ts');
  const source = modules.map(({ module, type }, i) => `import type { ${type} as T${i} } from '${module}';\nexport declare const v${i}: T${i};`).join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === probe ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === probe || fileExists(name);
  const program = ts.createProgram([probe], options, host);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => `type check of the models failed: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  if (problems.length > 0) return { problems };
  const checker = program.getTypeChecker();
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(probe)!)!);
  const typeOfModel = new Map<string, ts.Type>();
  modules.forEach(({ module }, i) => {
    typeOfModel.set(module, checker.getTypeOfSymbol(exported.find((s) => s.name === `v${i}`)!));
  });
  return { checker, typeOfModel };
}

/**
 * Fields the schema does not declare (typos such as `livenessProbes`), found by walking each
 * object along the model's TypeScript type: at each level, every key must be a property of the
 * type, unless the type is a free-form map (labels, data) or a primitive/union of primitives.
 */
export function unknownFields(items: Array<{ where: string; manifest: Manifest }>): string[] {
  const modules = [...new Set(items.map(({ manifest }) => JSON.stringify(modelOf(manifest.apiVersion, manifest.kind))))]
    .sort()
    .map((json) => JSON.parse(json) as { module: string; type: string });
  const cacheKey = JSON.stringify(modules);
  const cached = programs.get(cacheKey) ?? modelProgram(modules);
  programs.set(cacheKey, cached);
  if ('problems' in cached) return cached.problems;
  const { checker, typeOfModel } = cached;

  const isFreeForm = (type: ts.Type) => (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0 || checker.getIndexInfosOfType(type).length > 0;
  const objectParts = (type: ts.Type): ts.Type[] =>
    (type.isUnion() ? type.types : [type]).filter((t) => (t.flags & ts.TypeFlags.Object) !== 0 || (t.flags & ts.TypeFlags.Any) !== 0);

  const found: string[] = [];
  const walk = (value: unknown, type: ts.Type, path: string, where: string) => {
    if (value === null || typeof value !== 'object') return;
    const parts = objectParts(type);
    if (parts.length === 0) return; // the schema says primitive: the validator reports it
    if (Array.isArray(value)) {
      const element = parts.map((t) => (checker.isArrayType(t) ? checker.getTypeArguments(t as ts.TypeReference)[0] : undefined)).find(Boolean);
      if (element) value.forEach((item, i) => walk(item, element, `${path}[${i}]`, where));
      return;
    }
    if (parts.some(isFreeForm)) return;
    for (const [key, child] of Object.entries(value)) {
      const property = parts.map((t) => t.getProperty(key)).find(Boolean);
      if (!property) {
        found.push(`${where}: unknown field ${path}.${key}`);
        continue;
      }
      walk(child, checker.getNonNullableType(checker.getTypeOfSymbol(property)), `${path}.${key}`, where);
    }
  };
  for (const { where, manifest } of items) {
    walk(manifest, typeOfModel.get(modelOf(manifest.apiVersion, manifest.kind).module)!, '', where);
  }
  return found;
}
