# Stage: data (rules are added here)
