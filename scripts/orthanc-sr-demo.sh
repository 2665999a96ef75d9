#!/usr/bin/env bash
# One command from nothing to a DICOM SR in a PACS (docs/pacs.md "A recipe: Orthanc"): starts a throwaway Orthanc
# (Debian: apt-get install orthanc orthanc-dicomweb) on a loopback port, stores the tests' synthetic CT series in
# it, starts the service (demo model, jobs in a SQLite file), posts one job with the PACS as its destination, waits
# for it, and lists the SR Orthanc now holds under the study. Everything lives in a temporary directory and is
# stopped at the end, unless KEEP=1 (then Orthanc and the service keep running; the script prints how to stop them).
# Ports: ORTHANC_PORT (8043) and SERVICE_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(scripts/node.sh):$PATH"
orthanc_port=${ORTHANC_PORT:-8043}
service_port=${SERVICE_PORT:-8080}
study=1.2.826.0.1.3680043.8.498.4242
work=$(mktemp -d /tmp/unimed-sr-demo.XXXXXX)
pids=()
stop() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "left running: kill ${pids[*]}; rm -rf $work"
    return
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
# Waits for a condition (a command that succeeds), at most $2 seconds.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local end=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

password=$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')
printf '%s\n' "$password" > "$work/password"
node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))' > "$work/jobs-key"
cat > "$work/orthanc.json" <<JSON
{"Name": "pacs", "HttpPort": $orthanc_port, "RemoteAccessAllowed": false, "DicomServerEnabled": false,
 "AuthenticationEnabled": true, "RegisteredUsers": {"svc": "$password"},
 "StorageDirectory": "$work/db", "IndexDirectory": "$work/db",
 "Plugins": ["/usr/share/orthanc/plugins"], "DicomWeb": {"Enable": true, "Root": "/dicom-web/"}}
JSON
"${ORTHANC:-/usr/sbin/Orthanc}" "$work/orthanc.json" > "$work/orthanc.log" 2>&1 &
pids+=($!)
wait_for "Orthanc on port $orthanc_port" 30 curl -sf -u "svc:$password" "localhost:$orthanc_port/system"
node test/fixtures/dicom/ct-series.ts "$work/ct"
for f in "$work"/ct/*.dcm; do curl -sf -u "svc:$password" "localhost:$orthanc_port/instances" --data-binary "@$f" >/dev/null; done
echo "Orthanc on port $orthanc_port holds study $study: 48 CT slices"

DICOMWEB_SOURCES="{\"pacs\": {\"url\": \"http://localhost:$orthanc_port/dicom-web\", \"auth\": {\"type\": \"basic\", \"username\": \"svc\", \"password_file\": \"$work/password\"}}}" \
  JOBS_DB="$work/jobs.sqlite" JOBS_KEY_FILE="$work/jobs-key" PORT=$service_port AUDIT_LOG=/dev/null LOG_LEVEL=warn \
  node src/server.ts > "$work/service.log" 2>&1 &
pids+=($!)
wait_for "the service on port $service_port" 120 curl -sf "localhost:$service_port/readyz"

job=$(curl -sf "localhost:$service_port/jobs" -H 'content-type: application/json' \
  -d "{\"source\": \"pacs\", \"study\": \"$study\", \"prompt_set\": \"modality\", \"destination\": \"pacs\"}" |
  node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).id))')
echo "job $job queued"
job_settled() { curl -sf "localhost:$service_port/jobs/$job" | grep -Eq '"status":"(done|failed)"'; }
wait_for "job $job" 120 job_settled
curl -sf "localhost:$service_port/jobs/$job" | node -e '
  let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
    const job = JSON.parse(text);
    if (job.status !== "done") { console.error(`job ${job.status}: ${JSON.stringify(job.error)}`); process.exit(1); }
    for (const s of job.result.series)
      console.log(`series ${s.series}: ${s.classification.predictions[0].label}; SR ${s.report.instance} ${s.report.outcome}`);
  });'
echo "Orthanc lists under the study (QIDO-RS, Modality=SR):"
curl -sf -u "svc:$password" "localhost:$orthanc_port/dicom-web/studies/$study/series?Modality=SR" | node -e '
  let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
    for (const s of JSON.parse(text))
      console.log(`  SR series ${s["0020000E"].Value[0]}: "${s["0008103E"]?.Value?.[0] ?? ""}", ${s["00201209"]?.Value?.[0] ?? "?"} instance(s)`);
  });'
