"""Chinese text of course_lib.exercises._core: verdict lines, the hint line, how an answer differs."""

MESSAGES = {
    "{symbol} {name}: {text}": "{symbol} {name}：{text}",
    "\n  Hint: {hint}": "\n  提示：{hint}",
    "not attempted yet (the answer is still None or the function still a stub). "
    "Fill in the cell above and run it again.":
        "尚未作答（答案仍是 None，或函数仍是待填写的空壳）。请补全上面的单元格，然后重新运行。",
    "✓ Correct! {name} — {success}": "✓ 正确！{name} — {success}",
    "✓ Correct! {name}": "✓ 正确！{name}",
    "a tensor of shape {shape}": "一个形状为 {shape} 的张量",
    "your answer": "你的答案",
    "a {kind} of length {n}": "一个长度为 {n} 的 {kind}",
    "a {kind}": "一个 {kind}",
    "{what} should be a sequence of {n} items, got {got}": "{what}应是一个包含 {n} 项的序列，实际得到{got}",
    "item {i} of {what}": "{what}的第 {i} 项",
    "{what} is None": "{what}是 None",
    "{what} should be a number or a tensor, got a {kind} ({err})":
        "{what}应是一个数或一个张量，实际得到一个 {kind}（{err}）",
    "{what} has shape {got} but should have shape {want}": "{what}的形状是 {got}，但应为 {want}",
    " (transposed?)": "（是否转置了？）",
    " (same number of elements: a missing reshape/squeeze/unsqueeze?)":
        "（元素个数相同：是否漏了 reshape/squeeze/unsqueeze？）",
    " (a single number: did you reduce with sum()/mean() too early?)":
        "（只是一个数：是否过早地用 sum()/mean() 做了归约？）",
    "{what} contains NaN ({k} of {n} values)": "{what}含有 NaN（{n} 个值中有 {k} 个）",
    "{what} contains inf ({k} of {n} values)": "{what}含有 inf（{n} 个值中有 {k} 个）",
    "{what} has the opposite sign of the expected value (check a sign or the direction of a step)":
        "{what}与期望值符号相反（请检查某个符号或某一步的方向）",
    "{what} is {r:.4g} times the expected value (a missing or extra factor, e.g. a mean vs. a "
    "sum or a 1/2?)":
        "{what}是期望值的 {r:.4g} 倍（漏了或多了一个因子，例如把均值写成了求和，或者一个 1/2？）",
    "{what} is {value}, which is not within the tolerance (rtol={rtol:g}, atol={atol:g}) of the "
    "expected value":
        "{what}是 {value}，不在期望值的容差范围内（rtol={rtol:g}，atol={atol:g}）",
    "{k} of {n} values differ; the largest difference is {diff:.3g} at index {index} (you have "
    "{got:.4g})":
        "{n} 个值中有 {k} 个不同；最大差异为 {diff:.3g}，位于索引 {index}（你的值是 {got:.4g}）",
    "expected a tensor of shape {want}, got a {kind}": "期望一个形状为 {want} 的张量，实际得到一个 {kind}",
    "shape is {got} but should be {want}": "形状是 {got}，但应为 {want}",
    "shape {shape}": "形状为 {shape}",
    "the condition that a correct answer satisfies does not hold": "正确答案应满足的条件不成立",
    "calling it on test case {i} raised {error}: {err}": "在测试用例 {i} 上调用它时引发了 {error}：{err}",
    "it returned None on test case {i} (forgot a `return`?)": "它在测试用例 {i} 上返回了 None（忘了写 `return`？）",
    "the result": "结果",
    "on test case {i} of {n}: {problem}": "测试用例 {i}（共 {n} 个）：{problem}",
    "all {n} test cases pass": "全部 {n} 个测试用例都通过",
    "no answer given for {key!r}": "没有给出 {key!r} 的答案",
}
