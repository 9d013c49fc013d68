// The slip's print button (kept out of the printout by the print CSS).
document.getElementById("print").addEventListener("click", function () { window.print(); });
