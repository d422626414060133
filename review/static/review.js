// Keyboard shortcuts for the WithYou review UI. Served as a file: the Content-Security-Policy allows no inline script.
//   h harassing · s supportive · d disclosure · n neutral · e escalate · u undo · j / k next / previous item
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (link) {
      window.location.assign(link.href);
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) {
      return;
    }
    var key = event.key;
    var button = document.querySelector('button[data-key="' + key + '"]');
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    } else if (key === "u") {
      var undo = document.getElementById("undo-button");
      if (undo) {
        event.preventDefault();
        undo.click();
      }
    } else if (key === "j") {
      follow("next");
    } else if (key === "k") {
      follow("prev");
    }
  });

  // One submit per page: a second key press while the first decision is on its way would decide the next item.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
})();
