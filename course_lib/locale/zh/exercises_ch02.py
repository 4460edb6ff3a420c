"""Chinese text of course_lib.exercises.ch02 (MAML): verdicts, problems, hints and the step-size report."""

MESSAGES = {
    "Exercise {number}": "练习 {number}",
    "A = (2/n) X^T X and b = (2/n) X^T y; w' = w - alpha (A_s w - b_s); the meta-gradient is (I - alpha "
    "A_s)(A_q w' - b_q)":
        "A = (2/n) X^T X，b = (2/n) X^T y；w' = w - alpha "
        "(A_s w - b_s)；元梯度是 (I - alpha A_s)(A_q w' - b_q)",
    "this is the first-order (FOMAML) gradient: the factor (I - alpha A_s) from differentiating w' with "
    "respect to w is missing":
        "这是一阶（FOMAML）梯度：缺少了 w' 对 w 求导得到的因子 (I - alpha "
        "A_s)",
    "subtract FOMAML's gradient (A_q w' - b_q) from the exact one (I - alpha A_s)(A_q w' - b_q) of "
    "section 2 and count the factors of alpha in the difference as alpha -> 0 (w' -> w); the relative "
    "error divides that difference by the exact gradient, which does not vanish":
        "从第 2 节的精确梯度 (I - alpha A_s)(A_q w' - b_q) 中减去 "
        "FOMAML 的梯度 (A_q w' - b_q)，数一数当 alpha -> 0（w' -> "
        "w）时差中含有几个 alpha 因子；相对误差是这个差除以精确梯度，而精确梯度不会趋于零",
    "divide_by={divide_by!r}: pick a positive factor that changes alpha clearly (at least 1.5 times "
    "smaller or larger)":
        "divide_by={divide_by!r}：请选一个能明显改变 alpha "
        "的正因子（至少缩小或放大 1.5 倍）",
    "predicted_ratio={ratio!r}: a ratio of two errors is positive": "predicted_ratio={ratio!r}：两个误差之比是正数",
    "the error is proportional to alpha; measured on linear tasks, dividing alpha = 0.01 by {c:g} "
    "divides the error by {measured:.3g}":
        "误差与 alpha 成正比；在线性任务上实测，把 alpha = 0.01 除以 {c:g}，"
        "误差就除以 {measured:.3g}",
    "your ratio says the error is quadratic in alpha (ratio = divide_by squared): count the powers of "
    "alpha in the dropped term again, to leading order":
        "你的比值表示误差是 alpha 的二次函数（比值 = divide_by 的平方）："
        "请按主阶重新数一数被丢掉的项中 alpha 的幂次",
    "your ratio says the error does not depend on alpha: look at what the dropped term is multiplied by":
        "你的比值表示误差与 alpha 无关：看看被丢掉的项乘了什么",
    "your ratio says the error GROWS when alpha shrinks: the ratio asked is error(alpha) / error(alpha / "
    "divide_by)":
        "你的比值表示 alpha 变小时误差反而变大：题目要的比值是 error(alpha) / "
        "error(alpha / divide_by)",
    "your ratio says the error grows like alpha ** {order:.2g}; derive the power from the formula":
        "你的比值表示误差按 alpha ** {order:.2g} 增长；请从公式推导出幂次",
    "rename the loop variable (e.g. `step`) so that `iter` is the builtin again, and create the iterator "
    "once":
        "给循环变量改个名字（例如 `step`），让 `iter` 重新指向内置函数，"
        "并且只创建一次迭代器",
    "the outer optimizer should stay torch.optim.Adam, got {kind}": "外循环优化器应保持为 torch.optim.Adam，实际得到 {kind}",
    "inner SGD step, lr={lr:g}: one step lowers the support loss by {drop:.1f} % on average (worst of 25 "
    "tasks: {worst:.1f} %)":
        "内循环 SGD 步，lr={lr:g}：一步平均使支持集损失下降 {drop:.1f} "
        "%（25 个任务中最差的：{worst:.1f} %）",
    "outer Adam step, lr={lr:g}: one step moves a weight by {moved:.2g} % of a typical weight's size":
        "外循环 Adam 步，lr={lr:g}：一步使权重移动典型权重大小的 {moved:.2g} "
        "%",
    "the two rates do different jobs. The inner rate multiplies the RAW support gradient in one plain "
    "SGD step that must adapt the network by itself; Adam divides the gradient by its running RMS, so "
    "its rate is about how far EVERY weight moves per meta-step, over thousands of meta-steps. Choose "
    "each for its own job: ch02.step_size_report(fn, inner_lr=..., meta_lr=...) measures both":
        "两个学习率各司其职。内循环学习率乘的是原始的支持集梯度，在一次普通的 SGD "
        "步中必须独自完成网络的适应；Adam 会把梯度除以它的滑动 RMS，"
        "所以它的学习率决定的是每个元更新步中每一个权重移动多远，而元更新步要进行成千上万次。"
        "请按各自的职责分别选择：ch02.step_size_report(fn, "
        "inner_lr=..., meta_lr=...) 会同时测量两者",
    "give every argument after `model` a default value: your choice for the chapter's sinusoid problem "
    "(the check calls fn(model))":
        "请给 `model` 之后的每个参数一个默认值：即你为本章正弦问题选定的值（检查会调用 "
        "fn(model)）",
    "it takes {names}: a single rate still sets both steps. Take the two step sizes as separate "
    "arguments `inner_lr` and `meta_lr`":
        "它的参数是 {names}：单一的学习率仍然同时决定两种步长。请把两个步长作为单独的参数 "
        "`inner_lr` 和 `meta_lr`",
    "calling it raised {error}: {err}": "调用它时引发了 {error}：{err}",
    "the two rates are swapped: inner_lr must go to the inner SGD rule, meta_lr to Adam":
        "两个学习率交换了：inner_lr 应交给内循环的 SGD 规则，meta_lr 应交给 "
        "Adam",
    "called with inner_lr=0.02 and meta_lr=0.0007 the inner rule uses {inner:g} and Adam {outer:g}: each "
    "rate must reach its own optimizer":
        "以 inner_lr=0.02 和 meta_lr=0.0007 调用时，内循环规则用的是 "
        "{inner:g}，Adam 用的是 {outer:g}：每个学习率都必须传到它自己的优化器",
    "both defaults are {lr:g}: one number for two different jobs is the bug":
        "两个默认值都是 {lr:g}：用一个数做两件不同的事，这正是 bug 所在",
    "with inner_lr={inner:g} one inner step makes the support loss go UP on some tasks (on the worst it "
    "is {factor:.3g} times higher): the raw-gradient step overshoots":
        "当 inner_lr={inner:g} 时，一次内循环步会使某些任务的支持集损失上升（最差的情"
        "况下是原来的 {factor:.3g} 倍）：原始梯度步迈过头了",
    "with inner_lr={inner:g} one inner step lowers the support loss by only {drop:.2g} %: the inner loop "
    "barely adapts, and MAML degenerates into training one network for the average task":
        "当 inner_lr={inner:g} 时，一次内循环步只使支持集损失下降 "
        "{drop:.2g} %：内循环几乎没有适应，MAML 退化成了为平均任务训练一个网络",
    "with meta_lr={outer:g} one Adam step jumps: it moves a weight by {moved:.2g} % of a typical "
    "weight's size":
        "当 meta_lr={outer:g} 时，一次 Adam 步跳得太远："
        "它使权重移动典型权重大小的 {moved:.2g} %",
    "with meta_lr={outer:g} one Adam step crawls: it moves a weight by {moved:.2g} % of a typical "
    "weight's size":
        "当 meta_lr={outer:g} 时，一次 Adam 步几乎原地不动："
        "它使权重移动典型权重大小的 {moved:.2g} %",
    "inner_lr={inner:g} (one step lowers the support loss by {drop:.0f} %) and meta_lr={outer:g} (one "
    "Adam step moves a weight by {moved:.2g} % of its size): two step sizes, two jobs":
        "inner_lr={inner:g}（一步使支持集损失下降 {drop:.0f} %），"
        "meta_lr={outer:g}（一次 Adam 步使权重移动其大小的 "
        "{moved:.2g} %）：两个步长，两项职责",
}
