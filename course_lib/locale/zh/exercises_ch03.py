"""Chinese text of course_lib.exercises.ch03 (Reptile): verdicts, problems and hints."""

MESSAGES = {
    "Exercise {number}": "练习 {number}",
    "a torch.nn.Parameter carries no name; model.named_parameters() yields (name, weight) pairs, and "
    "under torch.no_grad() p.add_(outer_lr * (mean_phi[name] - p)) moves the weight in place":
        "torch.nn.Parameter 不带名字；model.named_parameters()"
        " 给出 (name, weight) 对，在 torch.no_grad() 下用 "
        "p.add_(outer_lr * (mean_phi[name] - p)) 原地移动权重",
    "{error}: {err} — a weight has no usable .name to look it up by (depending on the PyTorch version "
    "p.name is missing or None)":
        "{error}：{err} — 权重没有可用来查找的 .name（取决于 PyTorch 版本，"
        "p.name 要么不存在，要么是 None）",
    "it raised {error}: {err}": "它引发了 {error}：{err}",
    "the weights did not change (was the update applied to a copy, or zero?)": "权重没有变化（更新是不是作用在了副本上，或者更新为零？）",
    "the weights moved AWAY from mean_phi: a sign error": "权重朝远离 mean_phi 的方向移动了：符号错误",
    "the weights jumped to mean_phi: outer_lr is missing": "权重直接跳到了 mean_phi：缺少 outer_lr",
    "your update (new weights - theta)": "你的更新（新权重 - theta）",
    "every weight found by its name and moved by outer_lr towards mean_phi":
        "每个权重都按名字找到，并按 outer_lr 朝 mean_phi 移动",
    "the weights did not move at all: the update is zero (a difference of the model with itself, or the "
    "update went into a copy of the model)":
        "权重完全没有移动：更新为零（模型与它自己做差，或者更新进了模型的副本）",
    "the model ended up as the LAST task's adapted weights phi_T: theta was overwritten (e.g. by "
    "load_state_dict(phi)) and the difference 'model - phi' was then zero":
        "模型最终变成了最后一个任务适应后的权重 phi_T：theta 被覆盖了（例如被 "
        "load_state_dict(phi) 覆盖），之后的差 'model - phi' 就成了零",
    "the model moved AWAY from the adapted weights: a sign error (theta - phi instead of phi - theta)":
        "模型朝远离适应后权重的方向移动了：符号错误（用了 theta - phi 而不是 phi - "
        "theta）",
    "the result is that of ONE inner step per task: run the inner SGD step inner_steps times":
        "结果相当于每个任务只走了一步内循环：请把内循环 SGD 步执行 inner_steps 次",
    "the update is {n} times too large: you summed phi_i - theta over the tasks instead of averaging":
        "更新大了 {n} 倍：你对各任务的 phi_i - theta 求了和，而不是取平均",
    "task 2 started from task 1's adapted weights, and so on: the inner steps accumulated across tasks; "
    "every task must start from theta":
        "任务 2 从任务 1 适应后的权重出发，依此类推：内循环步在任务之间累积了；每个任务都必须从 "
        "theta 出发",
    "the inner loop trained the model itself, so the tasks accumulated and theta was lost; adapt a copy, "
    "starting from theta for every task":
        "内循环训练的是模型本身，所以各任务的更新累积起来，theta 丢失了；请适应一个副本，"
        "每个任务都从 theta 出发",
    "the model jumped all the way to mean_i phi_i: the step is missing its outer_lr":
        "模型一路跳到了 mean_i phi_i：这一步缺少 outer_lr",
    "for each task start from theta (the model's weights, detached), take inner_steps plain SGD steps on "
    "its support set (torch.autograd.grad without create_graph) to get phi_i, keep it; then, under "
    "torch.no_grad(), move every weight in place: p += outer_lr * (mean_i phi_i - p)":
        "对每个任务，从 theta（模型的权重，已 detach）出发，在它的支持集上走 "
        "inner_steps 步普通 SGD（torch.autograd.grad，不用 "
        "create_graph），得到 phi_i 并保存；然后在 torch.no_grad() "
        "下原地移动每个权重：p += outer_lr * (mean_i phi_i - p)",
    "calling it on test case {i} raised {error}: {err}": "在测试用例 {i} 上调用它时引发了 {error}：{err}",
    "test case {i} ({tasks} tasks, inner_steps={steps}, outer_lr={lr})":
        "测试用例 {i}（{tasks} 个任务，inner_steps={steps}，"
        "outer_lr={lr}）",
    "on {setting}, {problem}": "在{setting}上，{problem}",
    "on {setting} the numbers are right, but phi requires grad: the inner loop kept an autograd graph "
    "back to theta (memory grows with inner_steps, as in MAML). Detach theta before adapting and take "
    "the inner gradients without create_graph":
        "在{setting}上数值是对的，但 phi 需要梯度：内循环保留了一张通回 theta 的 "
        "autograd 计算图（内存随 inner_steps 增长，就像 MAML 一样）。"
        "请在适应之前 detach theta，并且计算内循环梯度时不用 create_graph",
    "the same weights as course_lib's reptile_step with torch.optim.SGD(lr=outer_lr)":
        "与 course_lib 的 reptile_step 配合 "
        "torch.optim.SGD(lr=outer_lr) 得到的权重相同",
    "write {expansion}; FOMAML keeps the last one, Reptile sums all k, MAML multiplies the last by "
    "{product}; then count the terms H_i g_j with i != j (each averages to AvgGradInner)":
        "写出 {expansion}；FOMAML 保留最后一项，Reptile 把全部 k 项相加，"
        "MAML 把最后一项乘以 {product}；然后数一数 i != j 的 H_i g_j "
        "项（每一项的平均都是 AvgGradInner）",
    "the answer needs entries for {keys}": "答案需要包含 {keys} 这些条目",
    "each entry must be a pair of numbers (c1, c2)": "每个条目必须是一对数 (c1, c2)",
    "these are the k = 2 coefficients of the table above; with a third mini-batch there are more pairs "
    "(i, j) of steps whose H_i g_j terms add up":
        "这些是上面表格中 k = 2 时的系数；有了第三个小批量，就有更多的步骤对 (i, j)，"
        "它们的 H_i g_j 项会累加起来",
    "a positive AvgGradInner coefficient: the expansion of {g} has a MINUS alpha H_i (sum of the earlier "
    "gradients)":
        "AvgGradInner 的系数为正：{g} 的展开式中是减去 alpha "
        "H_i（之前各梯度之和）",
    "for {alg} the AvgGrad coefficient c1 = {c1:g} is off (relative error {err:.2f} even for the small "
    "step size 0.001): how many gradients does its update add up?":
        "{alg} 的 AvgGrad 系数 c1 = {c1:g} 不对（即使步长小到 0.001，"
        "相对误差仍为 {err:.2f}）：它的更新一共累加了几个梯度？",
    " Did you drop the Jacobian terms -alpha H_j g_3 (that is FOMAML)?":
        "是不是漏掉了雅可比项 -alpha H_j g_3（那就是 FOMAML 了）？",
    " Did you count only consecutive steps? Step 3's gradient is expanded around phi_2, which carries "
    "BOTH earlier steps.":
        "是不是只数了相邻的步骤？第 3 步的梯度是在 phi_2 处展开的，而 phi_2 "
        "包含了前面两步。",
    "for {alg} the AvgGradInner coefficient c2 = {c2:g} is off: the error shrinks only like alpha "
    "({big:.1e} -> {small:.1e}), not like alpha^2.{extra}":
        "{alg} 的 AvgGradInner 系数 c2 = {c2:g} 不对：误差只像 "
        "alpha 一样缩小（{big:.1e} -> {small:.1e}），而不是像 "
        "alpha^2 一样。{extra}",
    "the prediction error of all three shrinks like alpha^2 for k = 3": "当 k = 3 时，三者的预测误差都像 alpha^2 一样缩小",
    "on such tasks the query targets are independent of everything the learner sees, so the best "
    "prediction is their mean (0), whose MSE is their variance":
        "在这样的任务上，查询集目标与学习者看到的一切都无关，所以最好的预测就是它们的均值（0），其 "
        "MSE 就是它们的方差",
    "zero error would need predicting fresh noise; no learner can": "误差为零就需要预测出新的噪声；任何学习者都做不到",
}
