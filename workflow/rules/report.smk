# Stage: report (rules are added here)
