/*
 * The colour theme: the system's (default), light or dark, remembered in this browser. Loaded
 * in <head>, before the page is drawn, so a chosen theme never flashes the other one first; the
 * picker in the header is wired once the page has loaded. A classic script (file:// pages).
 */
(function () {
  'use strict';
  var KEY = 'cs.theme';
  var THEMES = ['system', 'light', 'dark'];
  var html = document.documentElement;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return THEMES.indexOf(value) > 0 ? value : 'system';
    } catch (error) {
      return 'system';
    }
  }

  function apply(theme) {
    if (theme === 'light' || theme === 'dark') html.setAttribute('data-theme', theme);
    else html.removeAttribute('data-theme');
  }

  apply(stored());

  function wire() {
    var select = document.getElementById('theme');
    if (!select) return;
    select.value = stored();
    var picker = select.closest('[data-theme-picker]');
    if (picker) picker.hidden = false;
    select.addEventListener('change', function () {
      var theme = THEMES.indexOf(select.value) >= 0 ? select.value : 'system';
      apply(theme);
      try {
        if (theme === 'system') window.localStorage.removeItem(KEY);
        else window.localStorage.setItem(KEY, theme);
      } catch (error) {
        // Not remembered; this page still changes.
      }
    });
    // Another tab picked a theme.
    window.addEventListener('storage', function (event) {
      if (event.key !== KEY && event.key !== null) return;
      apply(stored());
      select.value = stored();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
