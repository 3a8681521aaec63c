"""The demo's split system prompt: no text rewritten, essentials always on, rules selectable."""

from __future__ import annotations

import dataclasses

import pytest

from examples.tokenopt_demo import load_workload
from examples.tokenopt_demo.prompt import CORE_RULES, demo_prompt, demo_system_fitter
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter


def test_split_keeps_every_line_of_the_core_module_once() -> None:
    workload = load_workload()
    core = next(m for m in workload.modules if m.cache_breakpoint)
    prompt = demo_prompt(workload)
    texts = [m.text for m in prompt.modules]
    lines = [line for line in core.content.split("\n") if line.strip()]
    for line in lines:
        assert sum(line in t for t in texts[: len(texts) - len(workload.modules) + 1]) == 1, line
    # The other modules are the workload's, unchanged and in order.
    others = [m for m in workload.modules if m is not core]
    assert texts[-len(others) :] == [m.content for m in others]
    essentials = prompt.module("essentials")
    assert essentials.core and prompt.cache_breakpoint == "essentials"
    assert [m.name for m in prompt.modules if m.core] == ["essentials"]
    for spec in CORE_RULES:
        assert (spec.starts in essentials.text) is spec.always


def test_fitted_demo_prompt_keeps_the_essentials_and_the_relevant_rule() -> None:
    workload = load_workload()
    counter = TokenCounter("gpt-4o")
    fitter = demo_system_fitter(workload, budget_tokens=350, token_counter=counter)
    essentials = demo_prompt(workload).module("essentials").text
    fitted = fitter.fit("If another shop sells it cheaper, will you match the price?")
    assert fitted.text.startswith(essentials)
    assert "- Do not discuss competitors" in fitted.text
    assert counter.count(fitted.text) <= 350
    fitted = fitter.fit("Can I return a climbing helmet I never wore but took out of the box?")
    assert "helmets that have left their packaging cannot be returned" in fitted.text
    assert "- Do not discuss competitors" not in fitted.text


def test_a_core_module_without_its_rules_is_refused() -> None:
    workload = load_workload()
    modules = tuple(
        dataclasses.replace(m, content=m.content.replace("Hard rules", "Rules"))
        if m.cache_breakpoint
        else m
        for m in workload.modules
    )
    with pytest.raises(TokenOptConfigError, match="Hard rules"):
        demo_prompt(dataclasses.replace(workload, modules=modules))
