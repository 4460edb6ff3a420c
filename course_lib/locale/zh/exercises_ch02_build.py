"""Chinese text of course_lib.exercises.ch02_build (the learner's inner step and MAML meta-loss)."""

MESSAGES = {
    "Exercise {number}": "练习 {number}",
    "compute grads = torch.autograd.grad(loss, list(params.values()), create_graph=True) and return "
    "{code}; no deepcopy, no optimizer":
        "先计算 grads = torch.autograd.grad(loss, "
        "list(params.values()), create_graph=True)，然后返回 "
        "{code}；不要 deepcopy，也不要优化器",
    "calling it raised {error}: {err}": "调用它时引发了 {error}：{err}",
    "it returns a module; return the adapted parameters as a dict": "它返回的是一个模块；请把适应后的参数作为一个 dict 返回",
    "the adapted value of {n!r} is not one SGD step on the support MSE": "{n!r} 适应后的值不是在支持集 MSE 上走一步 SGD 的结果",
    "the meta-gradient is None: the adapted parameters are cut off from the model's parameters "
    "(detach/clone/deepcopy/no_grad somewhere?)":
        "元梯度是 None：适应后的参数与模型的参数断开了（是否在某处用了 "
        "detach/clone/deepcopy/no_grad？）",
    "the gradient is the first-order one: the inner gradient needs create_graph=True for the Hessian term":
        "这个梯度是一阶的：内循环梯度需要 create_graph=True，才能得到海森项",
    "the meta-gradient of {n!r} differs from MAML's": "{n!r} 的元梯度与 MAML 的不同",
    "the query loss now has a path back to the initial parameters": "查询集损失现在有一条路径通回初始参数了",
    "it is the SUM of the {tasks} task losses: average over the tasks (.mean())":
        "这是 {tasks} 个任务损失的总和：请对任务取平均（.mean()）",
    "it is the SUPPORT loss after adaptation: MAML scores the adapted parameters on the QUERY set":
        "这是适应之后的支持集损失：MAML 在查询集上评估适应后的参数",
    "the inner step goes UP the support loss: phi = p - inner_lr * g (a minus sign)":
        "内循环步让支持集损失上升了：phi = p - inner_lr * g（是减号）",
    "it is the query loss BEFORE adaptation: no inner step used": "这是适应之前的查询集损失：没有用上内循环步",
    "only ONE inner step was taken, {steps} were asked": "只走了一步内循环，而要求的是 {steps} 步",
    "every step restarts from params: step j+1 must start from phi_j, the result of step j":
        "每一步都从 params 重新开始：第 j+1 步必须从第 j 步的结果 phi_j 出发",
    "it returned None (forgot a `return`?)": "它返回了 None（忘了写 `return`？）",
    "it changed params in place: build NEW tensors phi = {code}; never p.data -= ..., p.sub_(...) or "
    "optimizer.step() on the initialisation":
        "它原地修改了 params：请构造新的张量 phi = {code}；绝不要对初始化参数做 "
        "p.data -= ...、p.sub_(...) 或 optimizer.step()",
    "it returned a {kind}: return the loss TENSOR (no .item()), the outer step needs its graph":
        "它返回了一个 {kind}：请返回损失张量（不要 .item()），外循环步需要它的计算图",
    "it returned one loss per task (shape {shape}): average them (.mean())":
        "它为每个任务返回了一个损失（形状 {shape}）：请对它们取平均（.mean()）",
    "the meta-loss": "元损失",
    "{label}: {problem}": "{label}：{problem}",
    "{label}: the meta-gradient w.r.t. params is None for {which}: the query loss has no path back to "
    "params (copy.deepcopy, model(x) instead of functional_call(model, phi, (x,)), .detach() or "
    "torch.no_grad() on phi). Even first-order MAML keeps phi = params - inner_lr * g; only g is a "
    "constant":
        "{label}：对 params 的元梯度在 {which} 上是 None："
        "查询集损失没有通回 params 的路径（copy.deepcopy、用 model(x) "
        "代替 functional_call(model, phi, (x,))、对 phi 用了 "
        ".detach() 或 torch.no_grad()）。即使是一阶 MAML 也保留 phi "
        "= params - inner_lr * g，只有 g 被当作常数",
    "all of them": "全部参数",
    "{label}: the meta-gradient is the SECOND-order one although first_order=True was asked: take the "
    "inner gradients with create_graph=not first_order":
        "{label}：虽然要求 first_order=True，元梯度却是二阶的："
        "计算内循环梯度时请用 create_graph=not first_order",
    "{label}: the meta-gradient is the FIRST-order one although second order was asked: the Hessian term "
    "is missing. Take the inner gradients with torch.autograd.grad(..., create_graph=True) and do not "
    "detach them":
        "{label}：要求的是二阶，元梯度却是一阶的：缺少海森项。请用 "
        "torch.autograd.grad(..., create_graph=True) "
        "计算内循环梯度，并且不要 detach 它们",
    "{label}: the value is right but {problem}": "{label}：值是对的，但{problem}",
    "the meta-gradient": "元梯度",
    "Exercise 2.6 (build it yourself): my_meta_loss": "练习 2.6（动手实现）：my_meta_loss",
    "per task: phi = params; inner_steps times phi = {code}, g the gradients of the SUPPORT loss "
    "(create_graph=not first_order); then the QUERY loss of phi; the mean over tasks":
        "对每个任务：phi = params；执行 inner_steps 次 phi = "
        "{code}，其中 g 是支持集损失的梯度（create_graph=not "
        "first_order）；然后计算 phi 的查询集损失；最后对任务取平均",
    "test case {i} ({steps} inner step(s), first order)": "测试用例 {i}（{steps} 步内循环，一阶）",
    "test case {i} ({steps} inner step(s), second order)": "测试用例 {i}（{steps} 步内循环，二阶）",
    "{label} raised {error}: {err}": "{label} 引发了 {error}：{err}",
    "value and meta-gradient match maml.meta_loss (second and first order, 1 and 2 inner steps)":
        "值和元梯度都与 maml.meta_loss 一致（二阶和一阶，1 步和 2 步内循环）",
}
