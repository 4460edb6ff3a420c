"""Chinese text of course_lib.exercises.ch08_build (MeLU's meta-loss): verdicts, problems and hints."""

MESSAGES = {
    "you scored the SUPPORT ratings after adapting to them: that measures memorising, not "
    "predicting. MAML's meta-loss is the loss on each user's QUERY ratings":
        "你在适应之后计算的是支持集评分的损失：这衡量的是记忆而不是预测。MAML "
        "的元损失是每名用户查询集评分上的损失",
    "the query is scored with the starting parameters: adapt to the support ratings first":
        "查询集是用初始参数计算的：请先在支持集评分上适应",
    "the inner step climbs the support loss (sign error): step phi - inner_lr * grad":
        "内循环步在支持集损失上往上爬（符号错误）：应走 phi - inner_lr * grad",
    "the inner loss averages each user's support errors; this chapter SUMS them, so that one rating "
    "moves a user less than twenty ratings do":
        "内循环损失对每名用户的支持集误差取了平均；本章对它们求和，"
        "这样一条评分对用户的影响比二十条评分小",
    "you averaged over all query ratings of the batch: users with more query ratings weigh more. "
    "Take each user's mean over their real (mask) query ratings, then average over users":
        "你对整个批次的所有查询集评分取了平均：查询集评分多的用户权重更大。"
        "请先对每名用户真实的（mask 标出的）查询集评分取均值，再对用户取平均",
    "you summed over users: divide by the number of users in the batch, len(tasks)":
        "你对用户求了和：请除以批次中的用户数 len(tasks)",
    "Exercise 8.4": "练习 8.4",
    "phi = model.personal(len(tasks)); for each step: predictions with functional_call(model, phi, "
    "(item_x[tasks.support_item],)), the summed squared error on the support ratings, its gradient "
    "with respect to phi with create_graph=True, phi - inner_lr * grad; then each user's mean "
    "squared error on the masked query ratings, averaged over users":
        "phi = model.personal(len(tasks))；每一步：用 functional_call(model, phi, "
        "(item_x[tasks.support_item],)) 做预测，计算支持集评分上的平方误差之和，用 create_graph=True "
        "求它对 phi 的梯度，然后更新为 phi - inner_lr * grad；最后计算每名用户在（经掩码的）"
        "查询集评分上的均方误差，并对用户取平均",
    "calling it on test case {i} raised {error_type}: {error}":
        "在测试用例 {i} 上调用它时引发了 {error_type}：{error}",
    "it returned None on test case {i}": "它在测试用例 {i} 上返回了 None",
    "the meta-loss": "元损失",
    "on test case {i}: {problem}": "测试用例 {i}：{problem}",
    "the loss has no autograd graph back to the model's parameters: do not detach, call .item() or "
    "wrap the loop in torch.no_grad()":
        "损失没有连回模型参数的 autograd 计算图：不要 detach，不要调用 .item()，也不要把循环放进 "
        "torch.no_grad()",
    "the value is right but the meta-gradient is first-order: pass create_graph=True to "
    "torch.autograd.grad so that the adapted parameters stay a differentiable function of the "
    "starting ones (second-order MAML)":
        "数值是对的，但元梯度是一阶的：请给 torch.autograd.grad 传入 create_graph=True，"
        "使适应后的参数仍是初始参数的可微函数（二阶 MAML）",
    "on test case {i} the value is right but the meta-gradient differs from MAML's":
        "测试用例 {i}：数值是对的，但元梯度与 MAML 的不同",
    "the query loss after adaptation, with MAML's second-order meta-gradient":
        "适应之后的查询集损失，以及 MAML 的二阶元梯度",
}
