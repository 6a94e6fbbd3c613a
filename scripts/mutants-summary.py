"""One crate's cargo-mutants outcome, summarised (scripts/mutants calls it).

usage: mutants-summary.py OUTCOMES_JSON CRATE whole|diff TARGET_PERCENT

Viable mutants are those that built; a timeout counts as caught (the tests did not pass on
the mutant: it looped or stalled). A whole-crate run fails under TARGET_PERCENT; a diff run
fails on any missed mutant. Each missed mutant is listed with where it is."""

import json
import sys


def main(path: str, crate: str, mode: str, target: float) -> int:
    with open(path) as f:
        outcomes = json.load(f)["outcomes"]
    counts = {"CaughtMutant": 0, "MissedMutant": 0, "Timeout": 0, "Unviable": 0}
    missed = []
    for outcome in outcomes:
        scenario = outcome["scenario"]
        if scenario == "Baseline":
            continue
        summary = outcome["summary"]
        counts[summary] = counts.get(summary, 0) + 1
        if summary == "MissedMutant":
            mutant = scenario["Mutant"]
            line = mutant["span"]["start"]["line"]
            missed.append(f"  {mutant['file']}:{line}: {mutant_name(mutant)}")
    caught = counts["CaughtMutant"] + counts["Timeout"]
    viable = caught + counts["MissedMutant"]
    percent = 100.0 * caught / viable if viable else 100.0
    print(
        f"{crate}: {viable} viable ({counts['Unviable']} unviable), {caught} caught"
        f" ({counts['Timeout']} by timeout), {counts['MissedMutant']} missed: {percent:.1f} %"
    )
    print("\n".join(sorted(missed)))
    if mode == "diff":
        return 1 if missed else 0
    return 0 if percent >= target else 1


def mutant_name(mutant: dict) -> str:
    """`replace X with Y in f`, as cargo-mutants names it."""
    function = (mutant.get("function") or {}).get("function_name", "")
    genre = mutant.get("genre", "")
    replacement = mutant.get("replacement", "")
    if genre == "FnValue":
        return f"replace {function} -> {replacement}"
    return f"{genre} -> `{replacement}` in {function}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
