// Keyboard shortcuts and blur reveals for the WithYou review UI. Served as a file: the Content-Security-Policy allows
// no inline script, and this script sets no inline style either (classes only).
//   item page:   h s d n decide · e escalate · v reveal blurred text · u undo · j / k next / previous item
//   thread view: j / k next / previous reply · the decision keys and v act on that reply · x select it (X all)
//                o open it · C confirm all hidden · H hide at or above the score · R restore · L locked
//                S support sent · T resolve · E escalate the thread · u undo
//   break prompt: b take a break · c keep going (every other key waits until it is answered)
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) &&
      !(target.tagName === "INPUT" && target.type === "checkbox");
  }

  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (link) {
      window.location.assign(link.href);
    }
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(".reply-row"));
  }

  function focusedRow() {
    return document.querySelector(".reply-row.focused");
  }

  function focusRow(row) {
    rows().forEach(function (other) {
      other.classList.remove("focused");
    });
    if (row) {
      row.classList.add("focused");
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function moveFocus(step) {
    var all = rows();
    var at = all.indexOf(focusedRow());
    var next = Math.min(Math.max(at + step, 0), all.length - 1);
    focusRow(all[next]);
  }

  // The element a key acts on: the break prompt's own while it is open; on a page of replies (the thread view) the
  // focused reply's, else the page's own (marked data-shortcuts), so a decision key never decides a reply nobody
  // chose; on any other page, the one element with that key.
  function target(key) {
    var selector = '[data-key="' + key + '"]';
    var prompt = document.getElementById("break-prompt");
    if (prompt) {
      return prompt.querySelector(selector);
    }
    if (!rows().length) {
      return document.querySelector(selector);
    }
    var row = focusedRow();
    return (row && row.querySelector(selector)) || document.querySelector("[data-shortcuts] " + selector);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) {
      return;
    }
    var key = event.key;
    var element = key.length === 1 ? target(key) : null;
    if (document.getElementById("break-prompt")) {
      if (element) {
        event.preventDefault();
        element.click();
      }
      return;
    }
    var row = focusedRow();
    if (element && !element.disabled) {
      event.preventDefault();
      if (element.form && element.form.classList.contains("reveal")) {
        element.form.elements.via.value = "key";
      }
      element.click();
    } else if (key === "u") {
      var undo = document.getElementById("undo-button");
      if (undo) {
        event.preventDefault();
        undo.click();
      }
    } else if ((key === "j" || key === "k") && rows().length) {
      event.preventDefault();
      moveFocus(key === "j" ? 1 : -1);
    } else if (key === "j") {
      follow("next");
    } else if (key === "k") {
      follow("prev");
    } else if (key === "x" && row) {
      row.querySelector('input[type="checkbox"]').click();
    } else if (key === "X") {
      var boxes = Array.prototype.slice.call(document.querySelectorAll('.reply-row input[type="checkbox"]'));
      var check = boxes.some(function (box) {
        return !box.checked;
      });
      boxes.forEach(function (box) {
        box.checked = check;
      });
    } else if (key === "o" && row) {
      window.location.assign(row.querySelector("a.open").href);
    }
  });

  // A reveal is recorded by the server before the text unblurs: POST, then drop the blur from its targets.
  function reveal(form) {
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, { method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("reveal refused: " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        form.dataset.reveals.split(" ").forEach(function (id) {
          var text = document.getElementById(id);
          if (text) {
            text.classList.remove("blurred");
            text.removeAttribute("aria-hidden");
          }
        });
        form.remove();
        var revealed = document.querySelector('[data-exposure="revealed"]');
        if (revealed) {
          revealed.textContent = String(answer.revealed_today);
        }
        if (answer.break_due) {
          window.location.reload();
        }
      })
      .catch(function () {
        form.dataset.failed = "1";
        form.submit(); // the plain form: the server answers with the page again, or with the error
      });
  }

  // One navigating submit per page: a second key press while the first decision is on its way would decide the
  // next item. Reveals stay on the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("reveal") && !form.dataset.failed) {
      event.preventDefault();
      if (!form.dataset.sent) {
        form.dataset.sent = "1";
        reveal(form);
      }
      return;
    }
    if (document.body.dataset.sent) {
      event.preventDefault();
      return;
    }
    document.body.dataset.sent = "1";
  });

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest(".reply-row");
    if (row && row !== focusedRow()) {
      focusRow(row);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var all = rows();
    if (!all.length) {
      return;
    }
    var fromHash = window.location.hash && document.getElementById(window.location.hash.slice(1));
    focusRow(fromHash && fromHash.classList.contains("reply-row") ? fromHash : all[0]);
  });
})();
