"""Chinese text of course_lib.exercises.ch11 (wrap-up): verdicts, problems, hints and the family reasons."""

MESSAGES = {
    "a forward pass + comparison with the support embeddings, no gradient steps at test time":
        "一次前向传播 + 与支持集嵌入的比较，测试时不走梯度步",
    "model-agnostic: any differentiable model, adapted by gradient descent":
        "与模型无关：任何可微模型都行，通过梯度下降来适应",
    "the learner is a sequence model whose state absorbs each new example":
        "学习者是一个序列模型，它的状态吸收每一个新样本",
    "what is meta-learned is the update rule itself": "元学习得到的是更新规则本身",
    "Exercise 11.1": "练习 11.1",
    "ask what is allowed at test time (gradient steps? one forward pass?) and what must be learned":
        "问问自己：测试时允许做什么（梯度步？一次前向传播？），以及必须学到什么",
    "for {scenario!r}, {given!r} is not the best fit; think of the family where {reason}":
        "对于 {scenario!r}，{given!r} 不是最合适的；想一想哪一类方法的特点是：{reason}",
    "all four scenarios matched": "四个场景全部匹配正确",
    "Exercise 11.2": "练习 11.2",
    "shuffle the *distinct classes*, take a fraction of them for testing, then select every example "
    "of those classes":
        "打乱*不同的类别*，取其中一部分用于测试，然后选出这些类别的每一个样本",
    "raised {error_type}: {error}": "引发了 {error_type}：{error}",
    "every example must be in exactly one of the two index sets":
        "每个样本都必须恰好属于两个索引集合中的一个",
    "{count} classes appear on both sides: that is an example-level split, which leaks tasks into "
    "meta-testing":
        "有 {count} 个类别同时出现在两边：这是按样本划分，会把任务泄漏到元测试中",
    "disjoint classes, 10 of 40 held out": "类别互不相交，40 个中留出了 10 个",
    "{count} test classes; a quarter of 40 is 10": "测试类别有 {count} 个；40 的四分之一是 10",
    "Exercise 11.3": "练习 11.3",
    "the half-width shrinks like 1/sqrt(n): solve the inequality for n, then round up":
        "半宽按 1/sqrt(n) 缩小：解出关于 n 的不等式，再向上取整",
    "that is sqrt(n); square it": "这是 sqrt(n)；请把它平方",
    "with n = {n} the half-width is still a little above {half_width}: round UP":
        "n = {n} 时半宽仍略大于 {half_width}：请向上取整",
    "you left out the quantile 1.96 (the interval is 1.96 standard errors on each side for 95 %)":
        "你漏掉了分位数 1.96（95 % 区间是两侧各 1.96 个标准误）",
    "{exact} episodes with the exact t quantile ({expected} with 1.96)":
        "用精确的 t 分位数需要 {exact} 个情节（用 1.96 则是 {expected} 个）",
    "{expected} episodes for ±{half_width:.1%} when episodes vary by {std:.0%}":
        "情节间的波动为 {std:.0%} 时，要达到 ±{half_width:.1%} 需要 {expected} 个情节",
    "a mix-up common in blog posts: that paper (Ravi & Larochelle 2017) meta-learns an LSTM that "
    "produces the updates of a few-shot learner; Reptile is a first-order method, from a paper about "
    "first-order algorithms":
        "这是博客文章里常见的混淆：那篇论文（Ravi & Larochelle 2017）元学习一个 LSTM，"
        "由它给出小样本学习者的更新；Reptile 是一种一阶方法，出自一篇讨论一阶算法的论文",
    "Reptile is not in the MAML paper; it came a year later, from the paper that analyses "
    "first-order meta-learning":
        "Reptile 不在 MAML 论文中；它晚了一年，出自分析一阶元学习的那篇论文",
    "Nichol et al. (2018) analyse first-order MAML and call it FOMAML, but the approximation was "
    "introduced (and tested on MiniImagenet) in the MAML paper itself":
        "Nichol et al. (2018) 分析了一阶 MAML 并称之为 FOMAML，但这个近似是在 MAML "
        "论文本身中提出的（并在 MiniImagenet 上做了测试）",
    "that is the LSTM *optimizer* of Andrychowicz et al. (2016), which learns to train networks, not "
    "to learn from a few examples":
        "那是 Andrychowicz et al. (2016) 的 LSTM *优化器*，它学的是如何训练网络，"
        "而不是如何从少量样本中学习",
    "that is Ravi & Larochelle's few-shot meta-learner; the optimizer paper's title says what it "
    "replaces gradient descent with":
        "那是 Ravi & Larochelle 的小样本元学习器；优化器那篇论文的标题说明了它用什么来取代梯度下降",
    "the Neural Turing Machine (Graves et al. 2014) is the architecture MANN starts from; LRUA and "
    "the one-shot experiments are in Santoro et al. (2016)":
        "神经图灵机（Graves et al. 2014）是 MANN 的出发点；LRUA 和单样本实验出自 Santoro et al. "
        "(2016)",
    "Exercise 11.4": "练习 11.4",
    "match what each method does with what each title says; two titles describe two different LSTMs":
        "把每个方法做的事与每个标题所说的对应起来；有两个标题描述的是两种不同的 LSTM",
    "{method!r}: {given!r} is not one of the letters {letters}":
        "{method!r}：{given!r} 不是字母 {letters} 之一",
    "that paper introduced something else": "那篇论文提出的是别的东西",
    "{method!r} is not {letter} ({title!r}): {why}": "{method!r} 不是 {letter}（{title!r}）：{why}",
    "all five attributions right": "五个出处全部正确",
}
