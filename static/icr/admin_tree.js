/* The department changelist in the admin: indents each name by its depth in the tree.

   relations.admin.DepartmentAdmin.tree_name renders <span class="icr-tree-node" data-depth="N">.
   The indent is set through the CSSOM (element.style), which the Content-Security-Policy allows,
   where a style attribute in the markup would be refused (icr/settings.py). */
(function () {
  "use strict";
  function indent() {
    document.querySelectorAll(".icr-tree-node[data-depth]").forEach(function (node) {
      node.style.paddingLeft = 1.5 * Number(node.getAttribute("data-depth")) + "em";
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", indent);
  } else {
    indent();
  }
})();
