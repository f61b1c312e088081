/* Applies the remembered colour theme (light, dark, or auto = follow the system) before the
 * first paint. The picker in the menu (ui.js) writes the choice under the key that the Django
 * admin's own theme toggle uses ("theme": light / dark / auto): app and admin share one choice. */
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (err) {
    /* storage disabled: follow the system */
  }
})();
