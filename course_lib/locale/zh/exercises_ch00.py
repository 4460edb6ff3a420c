"""Chinese text of course_lib.exercises.ch00 (start here): devices, budgets, counting tasks."""

MESSAGES = {
    "Exercise {number}": "练习 {number}",
    "expected a torch.Tensor, got a {kind}": "期望一个 torch.Tensor，实际得到一个 {kind}",
    "the tensor is on {got}, but info.device is {device}": "张量位于 {got}，但 info.device 是 {device}",
    "a 3x3 identity on {device}": "位于 {device} 上的 3x3 单位矩阵",
    "the banner's 'budget ...' tells which of the three numbers applies; by_budget(...) returns it":
        "横幅中的“计算预算 ...”说明三个数中哪一个适用；by_budget(...) 返回的就是它",
    "{answer} belongs to another budget than the current one": "{answer} 属于另一个计算预算，而不是当前的计算预算",
    "order does not matter: it is a binomial coefficient, math.comb(number_of_characters, 5)":
        "顺序无关紧要：这是一个二项式系数，math.comb(number_of_characters, 5)",
    "that counts ordered choices; a set of 5 characters has no order (divide by 5!)":
        "这样数的是有序的选法；5 个字符组成的集合没有顺序（要除以 5!）",
    "{count:,} distinct 5-way tasks": "{count:,} 个不同的 5-way 任务",
}
