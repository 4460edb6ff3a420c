"""Chinese text of course_lib.exercises.ch05 and ch05_build (metric-based meta-learning): verdicts, problems and hints."""

MESSAGES = {
    "the support examples built the prototypes, so classifying them measures nothing (with 1 shot "
    "each one sits exactly on its prototype): the bug of the original article (section 8)":
        "原型正是由支持集样本构建的，所以对它们分类什么也衡量不了（1 "
        "样本时每个样本恰好就落在自己的原型上）：这正是原始文章中的 bug（第 8 节）",
    "support and query were embedded in two separate passes. The Conv-4's BatchNorm normalises with "
    "the statistics of the batch it sees, so the two halves are normalised differently: embed "
    "torch.cat([support_x, query_x]) in ONE pass and split the result":
        "支持集和查询集是分两次前向传播计算嵌入的。Conv-4 的 BatchNorm 用它所见批次的统计量做归一化，"
        "所以这两半的归一化方式不同：请在一次前向传播中对 torch.cat([support_x, query_x]) 计算嵌入，"
        "再把结果拆开",
    "these are the logits of the SUPPORT examples; {support_bug}. Score and label the QUERY set":
        "这些是支持集样本的 logits；{support_bug}。请对查询集样本打分，并使用查询集的标签",
    "the logits are +distance: a closer prototype must get a HIGHER score, so logits = -distance":
        "logits 用的是 +距离：越近的原型得分必须越高，所以 logits = -距离",
    "the logits are minus the Euclidean distance; ProtoNet uses the SQUARED Euclidean distance (a "
    "Bregman divergence: the mean is then the best prototype, the classifier linear)":
        "logits 是负的欧氏距离；ProtoNet 用的是欧氏距离的平方（一种布雷格曼散度："
        "这样均值才是最佳原型，分类器才是线性的）",
    "the prototypes are SUMS of the support embeddings (K times too long); a prototype is the MEAN "
    "of its class's support embeddings":
        "原型是支持集嵌入的总和（长了 K 倍）；原型应是该类支持集嵌入的均值",
    "the prototypes mix classes: reshaping the support embeddings to [n_way, K, D] assumes the "
    "support set is sorted by label 0, 1, ..., N-1, which it is not here. Select by label: "
    "support_emb[support_y == k]":
        "原型混入了别的类：把支持集嵌入 reshape 成 [n_way, K, D] 相当于假定支持集按标签 0, 1, ..., "
        "N-1 排好了序，而这里并非如此。请按标签选取：support_emb[support_y == k]",
    "{problem}. And {separate}": "{problem}。此外，{separate}",
    "Exercise 5.1 (build ProtoNet)": "练习 5.1（动手实现 ProtoNet）",
    "emb = encoder(torch.cat([support_x, query_x])), then split it; prototype k = mean of the "
    "support embeddings with label k; logits = -squared distances from the query embeddings to the "
    "prototypes [Q, N]; loss = F.cross_entropy(logits, query_y)":
        "emb = encoder(torch.cat([support_x, query_x]))，然后把它拆开；原型 k = 标签为 k "
        "的支持集嵌入的均值；logits = 查询集嵌入到各原型的距离平方取负 [Q, N]；loss = "
        "F.cross_entropy(logits, query_y)",
    "on test case {i} ({n_way}-way {k_shot}-shot, support labels {labels})":
        "测试用例 {i}（{n_way}-way {k_shot}-shot，支持集标签 {labels}）",
    "calling it {case} raised {error_type}: {error}": "在{case}上调用它时引发了 {error_type}：{error}",
    "it returned None {case}": "它在{case}上返回了 None",
    "return a pair (loss, logits), got a {type_name}":
        "请返回一个二元组 (loss, logits)，实际得到一个 {type_name}",
    "return tensors, not Python numbers (no .item() on the loss: training needs its graph)":
        "请返回张量，而不是 Python 数（不要对损失调用 .item()：训练需要它的计算图）",
    "the loss should be one number (the mean over the query set), got shape {shape}":
        "损失应是一个数（查询集上的均值），实际得到的形状是 {shape}",
    "{case}: {problem}": "{case}：{problem}",
    "{case}: the prototypes are right but in the wrong order: column k of the logits must belong to "
    "label k. Build prototype k from support_emb[support_y == k] for k = 0..n_way-1 (not in the "
    "order the labels appear)":
        "{case}：原型是对的，但顺序错了：logits 的第 k 列必须对应标签 k。请对 k = 0..n_way-1 用 "
        "support_emb[support_y == k] 构建原型 k（而不是按标签出现的顺序）",
    "{case}, the logits: {problem}": "{case}，logits：{problem}",
    "{case}: the loss is the SUM over the query examples; take the mean (F.cross_entropy's default "
    "reduction)":
        "{case}：损失是对查询集样本的求和；请取均值（F.cross_entropy 默认的归约方式）",
    "{case}: the logits are right but the loss is the SUPPORT set's; {support_bug}":
        "{case}：logits 是对的，但损失是在支持集上算的；{support_bug}",
    "{case}, the loss: {problem}": "{case}，损失：{problem}",
    "{case}: the loss has no gradient (computed under torch.no_grad(), or detached?), so training "
    "could not change the encoder":
        "{case}：损失没有梯度（是在 torch.no_grad() 下计算的，还是被 detach 了？），"
        "这样训练就无法改变编码器",
    "{case}: the values are right but the gradient w.r.t. the encoder is not ({problem}). Did you "
    "detach the prototypes or the support embeddings? The gradient must flow through both":
        "{case}：数值是对的，但对编码器的梯度不对（{problem}）。你是不是对原型或支持集嵌入调用了 "
        "detach？梯度必须流经这两者",
    "the gradient": "梯度",
    "values and encoder gradients match course_lib's ProtoNet on shuffled support sets":
        "在打乱顺序的支持集上，数值和编码器梯度都与 course_lib 的 ProtoNet 一致",
    "Exercise 5.2 (Bregman prototype, arguments swapped)": "练习 5.2（布雷格曼原型，参数交换）",
    "Exercise 5.2 (Bregman prototype)": "练习 5.2（布雷格曼原型）",
    "minimise the sum with gradient descent (or Adam) on a tensor c that requires grad, where d(x, "
    "c) = sum_j x_j log(x_j / c_j) - x_j + c_j; start from a positive c, keep it positive, run until "
    "c stops moving":
        "在一个 requires grad 的张量 c 上用梯度下降（或 Adam）最小化这个和，其中 d(x, c) = sum_j x_j "
        "log(x_j / c_j) - x_j + c_j；从一个正的 c 出发，保持它为正，一直运行到 c 不再移动",
    "the answer should have shape {want} (one point in R^3), got {got}":
        "答案的形状应为 {want}（R^3 中的一个点），实际得到 {got}",
    "with the prototype in the first argument the optimum is no longer the mean: the mean is optimal "
    "only in the second argument":
        "原型放在第一个参数时，最优点不再是均值：只有在第二个参数上，均值才是最优的",
    "the optimiser found the arithmetic mean, as the Bregman theorem says (Banerjee et al. 2005)":
        "优化器找到的正是算术平均，与布雷格曼定理所说一致（Banerjee et al. 2005）",
    "this point minimises the sum with the arguments the other way round: the prototype c must be "
    "the FIRST argument of d here":
        "这个点最小化的是参数顺序反过来的和：这里原型 c 必须是 d 的第一个参数",
    "this point minimises the sum with the arguments the other way round: the prototype c must be "
    "the SECOND argument of d here":
        "这个点最小化的是参数顺序反过来的和：这里原型 c 必须是 d 的第二个参数",
    "{point} is not the minimiser: check the divergence (the x log(x / c) term and the - x + c "
    "terms) and that the optimiser has converged (c no longer moves)":
        "{point} 不是最小值点：请检查散度（x log(x / c) 项以及 - x + c 项），"
        "并检查优化器是否已经收敛（c 不再移动）",
    "Exercise 5.3 (ProtoNet as a linear layer)": "练习 5.3（把 ProtoNet 看作线性层）",
    "expand the square ||z - c_k||^2 into three terms; one of them is the same for every class k, so "
    "the softmax ignores it; what is left is linear in z":
        "把平方 ||z - c_k||^2 展开成三项；其中一项对每个类别 k 都相同，所以 softmax 会忽略它；"
        "剩下的部分关于 z 是线性的",
    "calling it raised {error_type}: {error}": "调用它时引发了 {error_type}：{error}",
    "return a pair (W, b)": "请返回一个二元组 (W, b)",
    "W should be [N, D] = {want_w} (so that logits = z @ W.T + b) and b [N] = {want_b}, got {got_w} "
    "and {got_b}":
        "W 应为 [N, D] = {want_w}（使得 logits = z @ W.T + b），b 应为 [N] = {want_b}，实际得到 "
        "{got_w} 和 {got_b}",
    "W = c_k, b = -||c_k||^2 / 2 picks the same class but halves ProtoNet's logits, which changes "
    "the softmax probabilities (a different temperature). Count how often the cross term z . c_k "
    "appears in the expanded square":
        "W = c_k, b = -||c_k||^2 / 2 选出的类别相同，但把 ProtoNet 的 logits 减半了，这会改变 "
        "softmax 概率（相当于换了温度）。数一数交叉项 z . c_k 在展开的平方中出现了几次",
    "W = c_k is missing a factor: count how often the cross term z . c_k appears in the expanded "
    "square":
        "W = c_k 缺了一个因子：数一数交叉项 z . c_k 在展开的平方中出现了几次",
    "b has the wrong sign: the distance enters the logit with a minus":
        "b 的符号错了：距离是带着负号进入 logit 的",
    "the softmax of your linear logits differs from the softmax of -||z - c_k||^2":
        "你的线性 logits 的 softmax 与 -||z - c_k||^2 的 softmax 不同",
    "a squared-Euclidean ProtoNet is a linear classifier whose weights come from the prototypes":
        "使用欧氏距离平方的 ProtoNet 是一个线性分类器，其权重来自原型",
    "Exercise 5.4 (your prediction)": "练习 5.4（你的预测）",
    "set my_prediction to one of {choices} BEFORE the models are trained":
        "请在训练模型之前把 my_prediction 设为 {choices} 之一",
    "{prediction!r} is not one of the three models": "{prediction!r} 不是这三个模型之一",
    "recorded: {prediction!r}. The measurement below will say whether it holds":
        "已记录：{prediction!r}。下面的测量结果会告诉你它是否成立",
    "you combined the two models' own uncertainties (unpaired). Both models saw the SAME episodes: "
    "take the difference episode by episode first, so that the episode difficulty cancels":
        "你合并了两个模型各自的不确定性（非配对）。两个模型看到的是相同的情节：先逐个情节求差，"
        "这样情节本身的难度就会抵消",
    "you used the normal quantile 1.96; with n = {n} differences use Student's t with n - 1 degrees "
    "of freedom (t_quantile(0.975, n - 1))":
        "你用的是正态分位数 1.96；有 n = {n} 个差值时，应使用自由度为 n - 1 的 Student t "
        "分布（t_quantile(0.975, n - 1)）",
    "the t quantile has n - 1 degrees of freedom, not n": "t 分位数的自由度是 n - 1，而不是 n",
    "np.std defaults to ddof=0 (the population std); the sample std needs ddof=1":
        "np.std 默认 ddof=0（总体标准差）；样本标准差需要 ddof=1",
    "the standard error of a mean is std / sqrt(n), not std / n":
        "均值的标准误是 std / sqrt(n)，而不是 std / n",
    "this is the spread of one difference, not the uncertainty of their mean: divide by sqrt(n)":
        "这是单个差值的离散程度，而不是它们均值的不确定性：请除以 sqrt(n)",
    "Exercise 5.4 (paired difference)": "练习 5.4（配对差值）",
    "both models saw the same episodes: compute one difference per episode, then a 95 % Student-t "
    "interval for the mean of those differences (course_lib.metrics.t_quantile gives the t quantile)":
        "两个模型看到的是相同的情节：每个情节算出一个差值，再为这些差值的均值计算 95 % 的 Student t "
        "区间（course_lib.metrics.t_quantile 给出 t 分位数）",
    "on test case {i} ({episodes} episodes)": "测试用例 {i}（{episodes} 个情节）",
    "return a pair (mean, half_width)": "请返回一个二元组 (mean, half_width)",
    "{case}: the mean has the wrong sign: it is acc_a - acc_b (positive when the first model is "
    "better)":
        "{case}：均值的符号错了：它是 acc_a - acc_b（第一个模型更好时为正）",
    "{case}: the mean is not the mean of the per-episode differences (use fractions, like the "
    "accuracies)":
        "{case}：这个均值不是逐情节差值的均值（请用小数，与准确率一致）",
    "{case}: the mean is right, the half-width is not (you have {half:.4g})":
        "{case}：均值是对的，半宽不对（你的值是 {half:.4g}）",
    "mean and 95 % t-interval of the paired differences on both test cases":
        "两个测试用例上配对差值的均值和 95 % t 区间都正确",
}
