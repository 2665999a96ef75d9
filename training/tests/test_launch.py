"""The cluster launch files: the PyTorchJob's structure, and the shell scripts' syntax (no SLURM or Kubernetes here;
the multi-node behaviour itself is tested with local-nodes.sh in test_multinode.py)."""

import os
import subprocess

import pytest
import yaml

from training.train import parse_args

LAUNCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch")


def test_pytorchjob_is_a_valid_kubeflow_job():
    with open(os.path.join(LAUNCH, "pytorchjob.yaml"), encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    assert len(docs) == 1
    job = docs[0]
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"
    assert job["metadata"]["name"]
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert set(specs) == {"Master", "Worker"}
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] >= 1
    commands = []
    for role, spec in specs.items():
        assert spec["restartPolicy"] in ("OnFailure", "Always", "ExitCode", "Never"), role
        pod = spec["template"]["spec"]
        containers = pod["containers"]
        assert [c["name"] for c in containers] == ["pytorch"], role  # the operator finds the container by name
        c = containers[0]
        assert c["image"] and c["resources"]["limits"]["nvidia.com/gpu"] == 1, role
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert len(volumes) == len(pod["volumes"]), role
        mounts = c["volumeMounts"]
        assert {m["name"] for m in mounts} == set(volumes), role  # every mount has a volume, every volume a mount
        assert len({m["mountPath"] for m in mounts}) == len(mounts), role
        paths = {m["mountPath"]: volumes[m["name"]] for m in mounts}
        assert paths["/data"]["persistentVolumeClaim"]["readOnly"] is True
        assert "persistentVolumeClaim" in paths["/runs"] and paths["/dev/shm"]["emptyDir"]["medium"] == "Memory"
        assert c["command"] == ["python3", "-m", "training.train"], role
        args = parse_args(c["args"])  # the arguments are ones training.train accepts
        assert args.out.startswith("/runs/") and args.train_shards.startswith("/data/") and args.resume == "auto"
        assert all(isinstance(a, str) for a in c["args"]) and all(isinstance(e["value"], str) for e in c["env"])
        commands.append((c["image"], c["args"]))
    assert commands[0] == commands[1]  # master and workers run the same program


@pytest.mark.parametrize("script", ["slurm.sbatch", "local-nodes.sh"])
def test_launch_scripts_parse(script):
    r = subprocess.run(["bash", "-n", os.path.join(LAUNCH, script)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
