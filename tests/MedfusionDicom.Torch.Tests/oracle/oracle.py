"""Parity oracle: runs every case with PyTorch (python3-torch) and writes outputs and gradients.

usage: /usr/bin/python3 oracle.py cases.json inputs.safetensors outputs.safetensors errors.json threads

A case is {name, code, inputs, grads}: code is Python that assigns `out`, with the inputs bound by name
(those in grads are leaves that require grad). When the inputs hold "<name>/__go", out.backward(__go)
runs and the inputs' gradients are written as "<name>/grad/<input>".
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

import st


def main():
    cases_path, in_path, out_path, err_path, threads = sys.argv[1:6]
    torch.set_num_threads(int(threads))
    with open(cases_path) as f:
        cases = json.load(f)
    inputs = st.load(in_path)
    results, errors = {}, {}
    for case in cases:
        name = case["name"]
        ns = {"torch": torch, "F": F, "nn": torch.nn, "math": math}
        leaves = {}
        for arg in case["inputs"]:
            t = inputs[f"{name}/{arg}"]
            if arg in case["grads"]:
                t = t.clone().requires_grad_(True)
                leaves[arg] = t
            ns[arg] = t
        try:
            exec(case["code"], ns)
            out = ns["out"]
            results[f"{name}/out"] = out
            go = inputs.get(f"{name}/__go")
            if go is not None:
                out.backward(go)
                for arg, leaf in leaves.items():
                    if leaf.grad is not None:
                        results[f"{name}/grad/{arg}"] = leaf.grad
        except Exception as e:  # reported per case by the C# test
            errors[name] = f"{type(e).__name__}: {e}"
    st.save(out_path, results)
    with open(err_path, "w") as f:
        json.dump(errors, f)


if __name__ == "__main__":
    main()
