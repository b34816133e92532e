"""The model card's content and its two forms (core/model_card.py), from hand-made facts;
where it goes (the registry description, the run's artifacts, a browser) is
tests/e2e/test_registry.py's."""

from __future__ import annotations

import re

from mlops_template.core.model_card import CardFacts, markdown, page, sections

PROMOTION = {
    "task": "classification",
    "champion_version": "2",
    "candidate_metrics": {"accuracy": 0.91, "balanced_accuracy": 0.88},
    "comparisons": {
        "baseline": {
            "metric": "balanced_accuracy",
            "rows": 200,
            "a": 0.88,
            "b": 0.5,
            "improvement": 0.38,
            "interval": [0.3, 0.45],
            "verdict": "better",
        }
    },
    "gate": {"bootstrap": {"confidence": 0.9}},
    "decision": {
        "promote": False,
        "checks": [
            {"check": "baseline:balanced_accuracy", "passed": True, "candidate": 0.88,
             "baseline": 0.5, "improvement": 0.38, "interval": [0.3, 0.45], "verdict": "better"},
            {"check": "improvement:balanced_accuracy", "passed": False, "candidate": 0.88,
             "champion": 0.87, "improvement": 0.01, "interval": [-0.02, 0.04],
             "verdict": "within noise"},
        ],
    },
}  # fmt: skip


def facts(**changes) -> CardFacts:
    settings = {
        "model": "churn",
        "version": "3",
        "intended_use": "rank <customers> by churn risk",
        "owner": "retention team",
        "limitations": "",
        "lineage": {"git_commit": "abc", "train_md5": "t1", "test_md5": "e1", "model_md5": "k1"},
        "validation": {"target": "churned", "n_rows": 1000, "classes": {"no": 800, "yes": 200},
                       "missing": {"plan": 7},
                       "task_reason": "target 'churned': text values, 2 distinct: classification"},
        "columns": [("plan", "categorical"), ("tickets", "numeric")],
        "params": {"model.type": "auto", "model.cv_folds": 5},
        "learner": "linear",
        "selection": "model=auto chose linear by 5-fold cross-validation",
        "promotion": PROMOTION,
        "reasons": ["balanced_accuracy: candidate 0.88 vs champion 0.87: within noise"],
        "monitor": {"p_value": 0.05, "drift_share": 0.5},
    }  # fmt: skip
    return CardFacts(**{**settings, **changes})


def test_the_card_says_what_a_reader_needs_in_its_sections():
    found = {s.title: s for s in sections(facts())}
    assert list(found) == [
        "What it is for", "Training data", "Class balance", "Model", "Test metrics",
        "The gate's verdict", "Drift baseline", "Rebuild it",
    ]  # fmt: skip
    assert (
        "Limitations: not stated (registry.card in conf/registry/)" in found["What it is for"].lines
    )
    assert found["Training data"].lines[0] == (
        "Target `churned`: text values, 2 distinct: classification."
    )
    assert found["Training data"].table[1] == [
        ["plan", "categorical", "7"],
        ["tickets", "numeric", "0"],
    ]
    assert found["Class balance"].table[1] == [["no", "800", "80.0%"], ["yes", "200", "20.0%"]]
    metrics = " ".join(found["Test metrics"].lines)
    assert "0.8800 against 0.5000 for the trivial baseline (the majority class)" in metrics
    assert "90% interval" in metrics
    verdict = found["The gate's verdict"]
    assert verdict.lines[0] == "refused, against champion v2"
    assert verdict.lines[1].startswith("Failed: balanced_accuracy: candidate 0.88")
    assert [row[1] for row in verdict.table[1]] == ["yes", "no"]
    assert "make reproduce VERSION=3" in found["Rebuild it"].lines[0]


def test_a_version_trained_before_its_commit_says_where_it_is_rebuilt_from():
    """`make run`, `make promote`, then a commit: the run saw the changes uncommitted,
    and reproduce rebuilds from the later commit; the card named only the parent."""
    lineage = {"git_commit": "abc", "git_dirty": "true", "promoted_from_commit": "abc"}
    found = {s.title: s for s in sections(facts(lineage=lineage))}
    assert "commit `abc` with changes not yet committed" in found["Training data"].lines[2]
    assert "the later commit whose dvc.lock records this one" in found["Rebuild it"].lines[0]


def test_the_libraries_it_was_trained_with_are_named():
    """An upgrade trial: the card and the version's tags did not say which libraries
    trained it (only the version's requirements.txt in the store did)."""
    lineage = {"model_md5": "k1", "libraries": "python==3.11.9 scikit-learn==1.9.1 pandas==3.0.0"}
    model = {s.title: s for s in sections(facts(lineage=lineage))}["Model"]
    assert model.lines[-1] == "Trained with python 3.11.9, scikit-learn 1.9.1, pandas 3.0.0."
    older = {s.title: s for s in sections(facts())}["Model"]  # registered before the tag
    assert not any("Trained with" in line for line in older.lines)


def test_a_regression_card_has_no_class_balance():
    titles = [s.title for s in sections(facts(validation={"target": "price", "n_rows": 9}))]
    assert "Class balance" not in titles


def test_markdown_and_a_page_that_loads_nothing():
    text = markdown(facts())
    assert text.startswith("# Model card: churn v3\n") and "| plan | categorical | 7 |" in text
    short = markdown(facts(), tables=False, note="Tables: elsewhere.")
    assert "| plan |" not in short and "Tables: elsewhere." in short and len(short) < len(text)
    html = page(facts())
    assert "rank &lt;customers&gt; by churn risk" in html  # escaped
    assert "<code>abc</code>" in html
    assert not re.search(r"(?i)<script|<link|src=|href=|url\(", html)


def test_a_verdict_without_a_champion_says_so():
    first = {**PROMOTION, "champion_version": None, "decision": {"promote": True, "checks": []}}
    verdict = {s.title: s for s in sections(facts(promotion=first, reasons=[]))}
    assert verdict["The gate's verdict"].lines[0] == ("promoted, with no champion to compare with")


def test_search_ranges_are_listed_only_where_they_were_searched():
    from mlops_template.release.model_card import learner_params

    params = {
        "model.candidates.linear.alpha": "1.0",
        "model.candidates.linear.search.alpha": "{'low': 0.01, 'high': 100}",
        "features.scale": "True",
        "tune.method": "none",
        "split.seed": "42",
    }
    assert learner_params(params) == {
        "model.candidates.linear.alpha": "1.0",
        "features.scale": "True",
    }
    searched = learner_params({**params, "tune.method": "optuna"})
    assert "model.candidates.linear.search.alpha" in searched and "split.seed" not in searched
