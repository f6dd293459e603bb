// The web UI's entry point. For now it only tells whether the service is
// up, which also proves that module scripts load under the page's CSP.

const status = document.getElementById("status");

async function showHealth() {
  try {
    const response = await fetch("/healthz", { headers: { Accept: "application/json" } });
    status.textContent = response.ok ? "The service is running." : `The service answered ${response.status}.`;
  } catch {
    status.textContent = "The service cannot be reached.";
  }
  status.hidden = false;
}

showHealth();
