/*
 * Admin page behaviours, declared in the markup instead of inline handlers (so a strict
 * Content-Security-Policy can forbid inline script, and no user-typed text ever lands in a
 * script context):
 *   <form data-confirm="…">       asks before submitting
 *   <select data-autosubmit>      submits its form when changed
 *   <input data-select-on-focus>  selects its text when clicked (copying a link)
 *   <button data-print>           prints the page
 */
(function () {
  'use strict';

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) {
      el.form.submit();
    }
  });

  document.addEventListener('click', function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute('data-select-on-focus')) {
      el.select();
    }
    if (el.closest && el.closest('[data-print]')) {
      window.print();
    }
  });
})();
