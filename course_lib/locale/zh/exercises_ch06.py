"""Chinese text of course_lib.exercises.ch06 (memory- and model-based): verdicts, hints, claims, symptoms."""

MESSAGES = {
    "Exercise 6.1": "练习 6.1",
    "the first new class can be any of the N labels, the second any of the N-1 labels not used yet, "
    "..., the last new class has only one label left; average the N chances":
        "第一个新类别可能是 N 个标签中的任意一个，第二个可能是尚未用过的 N-1 个标签中的任意一个，……，"
        "最后一个新类别只剩下一个标签；把这 N 个概率取平均",
    "1/{n_way} is the chance level of a learner that ignores the labels it has already seen; a good "
    "learner also knows which labels are already taken":
        "1/{n_way} 是一个忽略已见过标签的学习者的随机水平；好的学习者还知道哪些标签已经被占用了",
    "you left out the last class (which is certain)": "你漏掉了最后一个类别（它是确定的）",
    "so ~46 % (not 20 %) is the ceiling for 1st presentations in 5-way episodes; a network near it "
    "has learned label bookkeeping, not character recognition":
        "所以在 5-way 情节中，第 1 次出现的准确率上限约为 46 %（而不是 20 %）；"
        "接近这个值的网络学会的是标签记账，而不是字符识别",
    "Nothing is wrong: A contains a neural network, and any learner built on one is model-based.":
        "没有任何问题：A 包含一个神经网络，而任何基于神经网络构建的学习者都是基于模型的。",
    "A adapts by gradient steps on the support-set loss, so it is optimization-based; a model-based "
    "learner adapts by a forward pass that reads the support set.":
        "A 通过在支持集损失上做梯度步来适应，所以它是基于优化的；"
        "基于模型的学习者通过一次读取支持集的前向传播来适应。",
    "A is metric-based: it compares the query examples with the support set.":
        "A 是基于度量的：它把查询集样本与支持集进行比较。",
    "A would be model-based if it took a single gradient step instead of five.":
        "如果 A 只走一个梯度步而不是五个，它就是基于模型的。",
    "A's adaptation is the loop torch.autograd.grad(support loss) -> params - lr * grad, gradient "
    "descent on the support set: optimization-based. Every family computes its predictions with a "
    "network, so 'it has a model' decides nothing":
        "A 的适应过程是循环 torch.autograd.grad(support loss) -> params - lr * grad，"
        "即在支持集上做梯度下降：基于优化。每一类方法都用网络来计算预测，"
        "所以“它有一个模型”什么也决定不了",
    "B takes no gradient step at test time: one forward pass reads the support set (encoder, then a "
    "mean) and emits the task's weights. Emitting weights is not optimising them: B is model-based "
    "(a hypernetwork)":
        "B 在测试时不走任何梯度步：一次前向传播读取支持集（先过编码器，再取均值），"
        "然后输出该任务的权重。输出权重并不是优化权重：B 是基于模型的（一个超网络）",
    "C adapts only the head, but by gradient steps on the support loss (autograd.grad in its loop), "
    "like ANIL: optimization-based. WHICH parameters adapt does not set the family, HOW they adapt "
    "does":
        "C 只适应分类头，但用的是在支持集损失上的梯度步（它的循环里有 autograd.grad），和 ANIL 一样："
        "基于优化。决定方法类别的不是适应哪些参数，而是如何适应",
    "D reads the support set in a forward pass, but the rule that uses it is fixed: squared distance "
    "to the class means in a learned embedding. Only the embedding is meta-learned: metric-based":
        "D 在前向传播中读取支持集，但使用它的规则是固定的：在学到的嵌入空间中到各类均值的距离平方。"
        "只有嵌入是元学习得到的：基于度量",
    "every family runs a neural network (MAML adapts one too); the family is decided by how the "
    "learner adapts to the support set":
        "每一类方法都会运行神经网络（MAML 适应的也是神经网络）；方法类别取决于学习者如何适应支持集",
    "A never measures a distance between query and support examples; it minimises the support loss":
        "A 从不度量查询集样本与支持集样本之间的距离；它最小化的是支持集损失",
    "one gradient step is still a gradient step (MAML often takes one); the number of steps does not "
    "change the family":
        "一个梯度步仍然是梯度步（MAML 常常只走一步）；步数不会改变方法类别",
    "Exercise 6.5": "练习 6.5",
    "ask what happens at test time when a new support set arrives: gradient steps on its loss "
    "(optimization), a fixed distance rule in a learned embedding (metric), or a network's forward "
    "pass that reads it and produces the predictor (model)":
        "问问自己：测试时来了一个新的支持集，会发生什么？是在它的损失上做梯度步（optimization），"
        "是在学到的嵌入中用固定的距离规则（metric），"
        "还是由一个网络的前向传播读取它并生成预测器（model）",
    "learner {learner}: answer 'optimization', 'model' or 'metric', got {given!r}":
        "学习者 {learner}：请回答 'optimization'、'model' 或 'metric'，实际得到 {given!r}",
    "learner {learner} is not {family}-based: {why}": "学习者 {learner} 不属于 {family}-based：{why}",
    "statement {number}: {why}": "说法 {number}：{why}",
    "choose one statement, 1 to 4, got {statement!r}": "请从 1 到 4 中选一个说法，实际得到 {statement!r}",
    "a gradient-step learner is optimization-based, whatever network it adapts; model-based learners "
    "adapt by a forward pass over the support set":
        "用梯度步适应的学习者是基于优化的，无论它适应的是什么网络；"
        "基于模型的学习者通过对支持集做一次前向传播来适应",
    "1) buggy_meta_step raises TypeError: {error}": "1) buggy_meta_step 引发了 TypeError：{error}",
    "2) with the call repaired, the gradient of prediction.sum() is identical for two different sets "
    "of query targets: {identical}":
        "2) 修好调用之后，对于两组不同的查询集目标值，prediction.sum() 的梯度完全相同：{identical}",
    "3) training on the sum of outputs: query MSE {first:.3g} at the start, {last:.3g} after {steps} "
    "steps (it pushes the outputs down, whatever the data say)":
        "3) 以输出之和为目标训练：查询集 MSE 开始时为 {first:.3g}，{steps} 步之后为 "
        "{last:.3g}（无论数据如何，它都只是把输出往下压）",
    "Exercise 6.6": "练习 6.6",
    "call the learner through torch.func.functional_call(learner, weights, (query_x,)), compute loss "
    "= F.mse_loss(prediction, query_y) and call loss.backward()":
        "通过 torch.func.functional_call(learner, weights, (query_x,)) 调用学习者，计算 loss = "
        "F.mse_loss(prediction, query_y)，再调用 loss.backward()",
    "calling it raised {error_type}: {error}": "调用它时引发了 {error_type}：{error}",
    "no gradient reached the weight generator's parameters": "没有梯度传到权重生成器的参数上",
    "the gradient is not the gradient of the query MSE (is the loss the mean squared error between "
    "the prediction on query_x and query_y, and did you call zero_grad first?)":
        "这个梯度不是查询集 MSE 的梯度（损失是不是 query_x 上的预测与 query_y "
        "之间的均方误差？你是否先调用了 zero_grad？）",
    "return the query loss ({want:.4g}), got {got}": "请返回查询集损失（{want:.4g}），实际得到 {got}",
    "held-out query MSE {before:.3f} -> {after:.3f} after {steps} tasks, with no gradient step at "
    "test time":
        "训练 {steps} 个任务之后，留出任务上的查询集 MSE 从 {before:.3f} 降到 {after:.3f}，"
        "测试时不走任何梯度步",
    "training did not reduce the held-out MSE enough ({before:.3f} -> {after:.3f})":
        "训练没有把留出任务上的 MSE 降得足够低（{before:.3f} -> {after:.3f}）",
}
