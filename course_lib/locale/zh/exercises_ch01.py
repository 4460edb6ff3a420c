"""Chinese text of course_lib.exercises.ch01 (what is meta-learning): verdicts, problems and hints."""

MESSAGES = {
    "sharing layers across a fixed set of tasks is multi-task learning (see the table above); "
    "meta-learning is defined by its objective, the loss AFTER adapting to a NEW task, not by shared "
    "weights":
        "在一组固定的任务之间共享层是多任务学习（见上面的表格）；元学习由它的目标来定义，"
        "即在适应一个新任务之后的损失，而不是由共享的权重来定义",
    "more tasks do not change what is optimised: the loop still minimises the loss on its training tasks "
    "and never practises adapting to a task it has not seen":
        "任务更多并不改变优化的对象：这个循环仍然在最小化它的训练任务上的损失，"
        "从来没有练习过适应一个没见过的任务",
    "too strong: shared features can transfer (section 6 fine-tunes exactly such a pooled network); the "
    "claim is wrong because the method neither optimises nor measures adaptation to new tasks, not "
    "because sharing is useless":
        "说得太绝对了：共享的特征是可以迁移的（第 6 节微调的正是这样一个合并训练的网络）；这个说法错，"
        "是因为该方法既不优化也不衡量对新任务的适应，而不是因为共享没有用",
    "look at what the loss averages over: tasks a, b, c themselves, with no adaptation step in between":
        "看看损失是对什么取平均的：就是任务 a、b、c 本身，中间没有任何适应步骤",
    "find the support set the loop adapts on and the query set it is judged on: there are none":
        "找找这个循环在哪个支持集上适应、又在哪个查询集上评估：根本没有",
    "ask on which tasks the reported number is computed, and whether any of them is new":
        "问一问报告的数字是在哪些任务上算出来的，其中有没有新任务",
    "Exercise {number}": "练习 {number}",
    "meta-learning = an objective measured after adapting on a support set, on tasks the learner has not "
    "seen":
        "元学习 = 在支持集上适应之后、在学习者没见过的任务上衡量的目标",
    "give a set of letters such as {{'A', 'B'}}, not a {kind}": "请给出一个字母集合，例如 {{'A', 'B'}}，而不是一个 {kind}",
    "there is no statement {letters} (the statements are A to F)": "没有陈述 {letters}（陈述是 A 到 F）",
    "statement {letter} is false": "陈述 {letter} 是错的",
    "statement {letter} is true as well": "陈述 {letter} 也是对的",
    "shared parameters give multi-task learning; meta-learning needs episodes and new tasks":
        "共享参数得到的是多任务学习；元学习需要情节（episode）和新任务",
    "MSE of y_hat = 0 is E[y^2] = E[A^2] * E[sin^2(x - phi)]; E[A^2] = integral of A^2 over [a, b], "
    "divided by b - a":
        "预测 y_hat = 0 的 MSE 是 E[y^2] = E[A^2] * "
        "E[sin^2(x - phi)]；E[A^2] = A^2 在 [a, b] 上的积分除以 "
        "b - a",
    "that is E[A^2]; you still need the average of sin^2 over the phase": "这是 E[A^2]；你还需要 sin^2 在相位上的平均",
    "you used E[A]^2 instead of E[A^2] (they differ by the variance of A)":
        "你用的是 E[A]^2 而不是 E[A^2]（两者相差 A 的方差）",
    "you used E[A]^2 instead of E[A^2], and forgot the average of sin^2":
        "你用的是 E[A]^2 而不是 E[A^2]，并且忘了 sin^2 的平均",
    "m(x) = E[A] * (1/pi) * integral_0^pi sin(x - phi) dphi; an antiderivative in phi is cos(x - phi)":
        "m(x) = E[A] * (1/pi) * integral_0^pi sin(x - "
        "phi) dphi；关于 phi 的一个原函数是 cos(x - phi)",
    "phi ~ U[0, pi] covers half a period of sin, so its average over phi does not vanish":
        "phi ~ U[0, pi] 覆盖了 sin 的半个周期，所以它对 phi 的平均不为零",
    "the sign is flipped: integral_0^pi sin(x - phi) dphi = [cos(x - phi)]_0^pi = cos(x - pi) - cos x":
        "符号反了：integral_0^pi sin(x - phi) dphi = [cos(x - "
        "phi)]_0^pi = cos(x - pi) - cos x",
    "you integrated over phi but did not divide by the length pi of its range":
        "你对 phi 做了积分，但没有除以它取值范围的长度 pi",
    "  The pre-trained network is {gap:.2f} (RMS) away from {c:.3f}·cos(x) on [-5, 5].":
        "  预训练网络在 [-5, 5] 上与 {c:.3f}·cos(x) 的距离为 "
        "{gap:.2f}（RMS）。",
    "expand sin(x - phi) with the angle-difference formula, multiply by A, and read off the sin x and "
    "cos x terms":
        "用差角公式展开 sin(x - phi)，乘以 A，再读出 sin x 项和 cos x "
        "项的系数",
    "you returned (b, a): a multiplies sin x, b multiplies cos x": "你返回的是 (b, a)：a 乘的是 sin x，b 乘的是 cos x",
    "b has the wrong sign: sin(x - phi) = sin x cos phi - cos x sin phi":
        "b 的符号错了：sin(x - phi) = sin x cos phi - cos x "
        "sin phi",
    "a and b are swapped and b has the wrong sign": "a 和 b 交换了，并且 b 的符号错了",
    "features(x) = [sin x, cos x] of shape [K, 2]; solve least squares for 2 coefficients; predict "
    "features(x) @ coef":
        "features(x) = [sin x, cos x]，形状为 [K, 2]；用最小二乘求出 "
        "2 个系数；预测 features(x) @ coef",
    "it returned a {kind}; return a function x -> y_hat (e.g. a lambda that uses the fitted coefficients)":
        "它返回了一个 {kind}；请返回一个函数 x -> y_hat（例如一个使用拟合系数的 "
        "lambda）",
    "raised {error}: {err}": "引发了 {error}：{err}",
    "predictions have shape {got}, expected {want}": "预测的形状是 {got}，期望 {want}",
    "query MSE at most {worst:.1e} on {n} new tasks": "在 {n} 个新任务上查询集 MSE 至多为 {worst:.1e}",
    "the worst query MSE is {worst:.3g}; an exact fit should give ~0 (features of x itself, or a "
    "polynomial, are not the sine family's model class)":
        "最差的查询集 MSE 为 {worst:.3g}；精确拟合应当得到约 0（x "
        "本身的特征或多项式都不属于正弦任务族的模型类）",
    "it meta-learns starting weights and adapts with ordinary gradient steps": "它元学习初始权重，并用普通的梯度步来适应",
    "it still adapts by ordinary gradient steps from meta-learned weights, only on the last layer":
        "它仍然从元学习得到的权重出发、用普通的梯度步来适应，只是只作用在最后一层",
    "each update is computed by a meta-learned network, so what is learned is the update rule":
        "每次更新都由一个元学习得到的网络计算，所以学到的是更新规则",
    "the LSTM's learned gates turn gradients into weight changes: a learned update rule":
        "LSTM 学到的门把梯度变成权重的变化：这是一个学习得到的更新规则",
    "no gradient steps on a new task: it compares a query with class means in a learned embedding":
        "在新任务上不做梯度步：它在学到的嵌入空间中把查询样本与各类的均值作比较",
    "no gradient steps on a new task: it compares query and support embeddings with a learned comparison":
        "在新任务上不做梯度步：它用学到的比较方式来比较查询样本和支持样本的嵌入",
    "the support set is absorbed by a forward pass of the network, which is the learner":
        "支持集通过网络的一次前向传播被吸收，这个网络本身就是学习者",
    "one forward pass over the support set produces the predictor": "对支持集的一次前向传播就产生了预测器",
    "ask what is meta-learned and what happens on a new task: gradient steps from learned weights "
    "(optimization), a learned update rule (learned optimizer), comparisons in a learned embedding "
    "(metric), a forward pass over the support set that yields the predictor (memory/model)":
        "问一问元学习的是什么、在新任务上发生了什么：从学到的权重出发做梯度步（optimization）"
        "、学习得到的更新规则（learned optimizer）、在学到的嵌入中作比较（metric）"
        "、对支持集的一次前向传播得到预测器（memory/model）",
    "{letter} is not {given!r}: {why}": "{letter} 不是 {given!r}：{why}",
    "all eight placed. They were A MAML, B ANIL, C the LSTM optimizer, D Ravi & Larochelle's "
    "meta-learner, E Prototypical Networks, F Relation Network, G MANN, H a hypernetwork":
        "八个都放对了。它们分别是 A MAML、B ANIL、C LSTM 优化器、D Ravi & "
        "Larochelle 的元学习器、E 原型网络（Prototypical Networks）、"
        "F 关系网络（Relation Network）、G MANN、H 一个超网络",
}
