"""Chinese text of course_lib.exercises.ch10 (beyond the classics): verdicts, problems and hints."""

MESSAGES = {
    "calling it {case} raised {error_type}: {error}": "在{case}上调用它时引发了 {error_type}：{error}",
    "b = a @ M + 2 for an invertible M": "b = a @ M + 2，M 可逆",
    "b = 3 columns of a and 3 noise columns": "b = a 的 3 列加 3 列噪声",
    "independent a [150, 4], b [150, 5]": "相互独立的 a [150, 4] 和 b [150, 5]",
    "Exercise 10.1 (mean CCA)": "练习 10.1（平均 CCA）",
    "centre each matrix (subtract the column means), take an orthonormal basis of each one's columns "
    "(torch.linalg.qr(a)[0] or the U of an SVD), then the canonical correlations are the singular "
    "values of Qa.T @ Qb: return their mean":
        "先把每个矩阵中心化（减去列均值），再为各自的列空间取一组标准正交基（torch.linalg.qr(a)[0] "
        "或 SVD 的 U），这时典型相关系数就是 Qa.T @ Qb 的奇异值：返回它们的均值",
    "on test case {i} ({what})": "测试用例 {i}（{what}）",
    "the columns were not centred: CCA compares variations around the mean, so subtract a.mean(0)":
        "列没有中心化：CCA 比较的是围绕均值的变化，所以要减去 a.mean(0)",
    "that is the LARGEST canonical correlation; the measure is their MEAN":
        "这是最大的典型相关系数；这个度量是它们的均值",
    "that is the SUM of the canonical correlations; divide by their number (the mean)":
        "这是典型相关系数之和；请除以它们的个数（即取均值）",
    "on test case {i} ({what}): {problem}": "测试用例 {i}（{what}）：{problem}",
    "invariant to invertible linear maps, 1 for shared directions, small for independent noise":
        "对可逆线性变换保持不变，共享方向上为 1，独立噪声上很小",
    "query i may see pair i itself, i.e. its own answer y_i: the loss can go to zero by copying it. "
    "Use visible[i, j] = j < i (torch.ones(n, n).tril(diagonal=-1))":
        "查询 i 能看到数据对 i 本身，也就是它自己的答案 y_i：只要照抄它，损失就能降到零。请使用 "
        "visible[i, j] = j < i（torch.ones(n, n).tril(diagonal=-1)）",
    "every query sees every pair, its own answer included: nothing is predicted, only copied":
        "每个查询都能看到所有数据对，包括它自己的答案：没有在预测，只是在照抄",
    "query i sees the pairs AFTER it instead of before it: the lower triangle is the past":
        "查询 i 看到的是它之后的数据对，而不是之前的：下三角才是过去",
    "the mask is inverted: in F.scaled_dot_product_attention (and here) True means 'may attend', not "
    "'blocked'":
        "掩码取反了：在 F.scaled_dot_product_attention 中（这里也一样），True 表示“可以关注”，"
        "而不是“被屏蔽”",
    "Exercise 10.2 (build the in-context loss)": "练习 10.2（动手实现上下文学习损失）",
    "visible = torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1) (query i sees the pairs j < i); "
    "predictions = model(x, y, x, visible=visible), shape [T, n, 1]; the loss is the mean squared "
    "error over every task and every position i = 0 .. n-1":
        "visible = torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1)（查询 i 能看到 j < i "
        "的数据对）；predictions = model(x, y, x, visible=visible)，形状为 [T, n, 1]；"
        "损失是对所有任务和所有位置 i = 0 .. n-1 的均方误差",
    "on test case {i} ({tasks} tasks of {pairs} pairs in {dims} dimensions)":
        "测试用例 {i}（{tasks} 个任务，每个任务 {pairs} 个 {dims} 维的数据对）",
    "shape {shape}": "形状为 {shape}",
    "{case}: return the loss as a one-element tensor (no .item(): training needs its graph), got "
    "{got}":
        "{case}：请把损失作为只含一个元素的张量返回（不要 .item()：训练需要它的计算图），"
        "实际得到{got}",
    "{case}: {problem}": "{case}：{problem}",
    "{case}: the loss is the SUM over the {n} positions; take the mean":
        "{case}：损失是对 {n} 个位置的求和；请取均值",
    "{case}: position 0 (a prediction from no example at all) was left out; Garg et al. average over "
    "every prefix, the empty one included":
        "{case}：漏掉了位置 0（完全不依据任何样本的预测）；Garg et al. 对每个前缀取平均，包括空前缀",
    "{case}: only the last position is scored; every position i is a training example (a prediction "
    "from i pairs)":
        "{case}：只对最后一个位置计算了损失；每个位置 i 都是一个训练样本（依据 i 个数据对做出的预测）",
    "the loss": "损失",
    "{case}: the loss has no gradient (computed under torch.no_grad() or detached?)":
        "{case}：损失没有梯度（是在 torch.no_grad() 下计算的，还是被 detach 了？）",
    "the same loss as course_lib's prefix_loss on two random transformers":
        "在两个随机初始化的 Transformer 上，损失都与 course_lib 的 prefix_loss 相同",
    "Exercise 10.3 (least squares in context)": "练习 10.3（上下文中的最小二乘）",
    "w = torch.linalg.pinv(context_x) @ context_y gives the least-squares weights [T, d, 1] for "
    "every number of pairs (the minimum-norm one when i < d); the prediction is query_x @ w":
        "无论有多少个数据对，w = torch.linalg.pinv(context_x) @ context_y 都给出最小二乘权重 [T, d, "
        "1]（i < d 时是最小范数解）；预测值为 query_x @ w",
    "on test case {i} ({pairs} pairs in {dims} dimensions)": "测试用例 {i}（{pairs} 个 {dims} 维的数据对）",
    "{case}: expected predictions of shape {want}, got {got}":
        "{case}：预测值的形状应为 {want}，实际得到 {got}",
    "{case}: non-finite predictions. With fewer pairs than dimensions X^T X is singular, so (X^T "
    "X)^-1 X^T y does not exist; the pseudo-inverse gives the minimum-norm solution":
        "{case}：预测值不是有限数。数据对少于维数时 X^T X 是奇异的，所以 (X^T X)^-1 X^T y 不存在；"
        "伪逆给出的是最小范数解",
    "predicting 0 when there are fewer pairs than dimensions wastes them: the minimum-norm solution "
    "already uses every pair":
        "数据对少于维数时预测 0 就浪费了这些数据对：最小范数解已经用上了每一个数据对",
    "with fewer pairs than dimensions many w fit the pairs exactly; least squares as Garg et al. use "
    "it picks the one of minimum norm (torch.linalg.pinv), not another one":
        "数据对少于维数时，有许多 w 都能精确拟合这些数据对；Garg et al. "
        "所用的最小二乘选的是范数最小的那个（torch.linalg.pinv），而不是别的",
    "the predictions": "预测值",
    "exact with more pairs than dimensions, minimum-norm with fewer":
        "数据对多于维数时是精确解，少于维数时是最小范数解",
}
