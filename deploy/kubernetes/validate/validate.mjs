// Validates kcp's Kubernetes manifests offline: every document of every *.yaml in deploy/kubernetes against the
// Kubernetes schemas (kubernetes-models) or KEDA's (@kubernetes-models/keda), the kustomization's resource list, and
// the references between them (ConfigMaps, Secret, Service, probes, the ScaledObject's target).
//
//   node validate.mjs [--write-config DIR]
//
// --write-config writes the ConfigMaps' files as the pod sees them: DIR/etc/kcp/kcp.yaml and DIR/etc/kcp-routes/*,
// and the example Secret's keys to DIR/etc/kcp-secrets/, so that `kcp validate` can check them (deploy/kubernetes/check.sh).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const folder = join(dirname(fileURLToPath(import.meta.url)), "..");
const errors = [];
const fail = (where, message) => errors.push(`${where}: ${message}`);

// apiVersion -> module holding its models
const modules = {
  v1: "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "keda.sh/v1alpha1": "@kubernetes-models/keda/keda.sh/v1alpha1",
};

const files = readdirSync(folder).filter((f) => f.endsWith(".yaml")).sort();
const objects = [];
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(join(folder, file), "utf8"));
  for (const [index, doc] of docs.entries()) {
    const where = `${file}#${index + 1}`;
    if (doc.errors.length > 0) {
      fail(where, doc.errors.map((e) => e.message).join("; "));
      continue;
    }
    const object = doc.toJS();
    if (object === null) continue;
    if (object.kind === "Kustomization") {
      objects.push({ file, where, object });
      continue;
    }
    const path = modules[object.apiVersion];
    const model = path && (await import(path))[object.kind];
    if (!model) {
      fail(where, `no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new model(object).validate();
    } catch (e) {
      fail(where, `${object.kind} ${object.metadata?.name}: ${e.message}`);
    }
    objects.push({ file, where, object });
  }
}

const find = (kind, name) => objects.find((o) => o.object.kind === kind && o.object.metadata?.name === name)?.object;
const kustomization = find("Kustomization", undefined);
if (!kustomization) {
  fail("kustomization.yaml", "missing");
} else {
  const listed = new Set(kustomization.resources ?? []);
  for (const resource of listed) {
    if (!files.includes(resource)) fail("kustomization.yaml", `resource ${resource} does not exist`);
  }
  for (const file of files) {
    if (file !== "kustomization.yaml" && !file.endsWith(".example.yaml") && !listed.has(file)) {
      fail("kustomization.yaml", `${file} is not listed in resources`);
    }
  }
}

const sts = find("StatefulSet", "kcp");
if (!sts) {
  fail("statefulset.yaml", "no StatefulSet kcp");
} else {
  const pod = sts.spec.template.spec;
  const container = pod.containers.find((c) => c.name === "kcp");
  if (container.livenessProbe?.httpGet?.path !== "/healthz") fail("statefulset.yaml", "liveness probe is not /healthz");
  if (container.readinessProbe?.httpGet?.path !== "/readyz") fail("statefulset.yaml", "readiness probe is not /readyz");
  if (!container.resources?.requests?.memory || !container.resources?.limits?.memory) {
    fail("statefulset.yaml", "memory request and limit must be set");
  }
  for (const volume of pod.volumes) {
    if (volume.configMap && !find("ConfigMap", volume.configMap.name)) {
      fail("statefulset.yaml", `volume ${volume.name} names ConfigMap ${volume.configMap.name}, which is not defined`);
    }
    if (volume.secret && !find("Secret", volume.secret.secretName)) {
      fail("statefulset.yaml", `volume ${volume.name} names Secret ${volume.secret.secretName}, which secret.example.yaml does not show`);
    }
  }
  const claims = (sts.spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name);
  for (const mount of container.volumeMounts) {
    if (!pod.volumes.some((v) => v.name === mount.name) && !claims.includes(mount.name)) {
      fail("statefulset.yaml", `volume mount ${mount.name} has no volume`);
    }
  }
  if (!find("Service", sts.spec.serviceName)) fail("statefulset.yaml", `serviceName ${sts.spec.serviceName} is not defined`);
}

const scaled = find("ScaledObject", "kcp");
if (!scaled) {
  fail("scaledobject.yaml", "no ScaledObject kcp");
} else {
  const target = scaled.spec.scaleTargetRef;
  if (target.kind !== "StatefulSet" || target.name !== "kcp") fail("scaledobject.yaml", "does not scale the StatefulSet kcp");
  const trigger = scaled.spec.triggers.find((t) => t.type === "prometheus");
  if (!trigger?.metadata?.query?.includes("kcp_consumer_lag")) fail("scaledobject.yaml", "no prometheus trigger on kcp_consumer_lag");
}

if (errors.length > 0) {
  console.error(`${errors.length} error(s) in deploy/kubernetes:\n${errors.join("\n")}`);
  process.exit(1);
}
console.log(`deploy/kubernetes: ${objects.length} document(s) in ${files.length} file(s) valid`);

const at = process.argv.indexOf("--write-config");
if (at > 0) {
  const out = process.argv[at + 1];
  const write = (dir, data) => {
    mkdirSync(join(out, dir), { recursive: true });
    for (const [key, value] of Object.entries(data ?? {})) writeFileSync(join(out, dir, key), value);
  };
  write("etc/kcp", find("ConfigMap", "kcp-config").data);
  write("etc/kcp-routes", find("ConfigMap", "kcp-routes").data);
  write("etc/kcp-secrets", find("Secret", "kcp-secrets").stringData);
  console.log(`configuration written to ${out}`);
}
