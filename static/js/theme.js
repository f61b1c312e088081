/* Applies the remembered colour theme (light, dark, or none = follow the system) before the
 * first paint. The picker in the menu (ui.js) writes the choice. */
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("vault-theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (err) {
    /* storage disabled: follow the system */
  }
})();
